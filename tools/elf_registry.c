/*
** elf_registry.c - a program's persistent globals from its ELF file.
**
** The plugin emits one perm_registry_entry_t (include/perm_registry.h) per
** PERM variable into the section "perm_registry".  Its two pointer fields,
** name and addr, are link-time constants in a non-PIE executable, but in a
** PIE or a shared object the linker leaves them to the dynamic loader: an
** R_X86_64_RELATIVE relocation (or R_X86_64_64 against a symbol, for an
** exported variable of a shared object) in .rela.dyn carries the value as
** its addend, and the section holds zero.  With RELR (-z
** pack-relative-relocs) the value stays in place.  So a field's value is
** the relocation's when one targets it, else the bytes in the file.  Names
** are then read from whichever section holds their address (.rodata).
**
** The file is read with Debian's libelf (elfutils), which does the bounds
** and format checking of headers, sections and tables; what is left here
** is PERM's own layout and the x86-64 relocation types.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/perm_registry.h"
#include "elf_registry.h"
#include "tool.h"

/* The on-disk entry: 48 bytes, the pointers at fixed offsets. */
#define ELF_ENTRY_SIZE 48u
#define ELF_ENTRY_NAME 8u
#define ELF_ENTRY_ADDR 16u
_Static_assert(sizeof(perm_registry_entry_t) == ELF_ENTRY_SIZE,
               "perm_registry_entry_t changed: update elf_registry.c");

/* A dynamic relocation that supplies a value: where, and what. */
typedef struct elf_reloc_s {
  uint64_t offset; /* the address it writes */
  uint64_t value;  /* what it writes there, when known */
  int known;       /* 0: against a symbol this file does not define */
} elf_reloc_t;

/* The state of one read. */
typedef struct elf_reader_s {
  elf_program_t *p;
  Elf *elf;
  size_t shstrndx;
  elf_reloc_t *relocs; /* sorted by offset */
  size_t nrelocs;
} elf_reader_t;

static int elf_fail(const elf_reader_t *r, const char *what) {
  int e = elf_errno();
  tool_error("cannot read the program '%s': %s%s%s%s; give an ELF executable "
             "or shared object built for x86-64",
             r->p->path, what, e ? " (libelf: " : "", e ? elf_errmsg(e) : "",
             e ? ")" : "");
  return -1;
}

static int elf_bad(const elf_reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int elf_bad(const elf_reader_t *r, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tool_error("the registry of '%s' is malformed: %s; rebuild the program with "
             "this release's libperm.so",
             r->p->path, msg);
  return -1;
}

static const char *elf_section_name(const elf_reader_t *r, Elf_Scn *scn,
                                    GElf_Shdr *sh) {
  if (gelf_getshdr(scn, sh) == NULL)
    return NULL;
  return elf_strptr(r->elf, r->shstrndx, sh->sh_name);
}

static Elf_Scn *elf_find_section(const elf_reader_t *r, const char *name,
                                 GElf_Shdr *out) {
  for (Elf_Scn *scn = elf_nextscn(r->elf, NULL); scn != NULL;
       scn = elf_nextscn(r->elf, scn)) {
    const char *n = elf_section_name(r, scn, out);
    if (n != NULL && strcmp(n, name) == 0)
      return scn;
  }
  return NULL;
}

static int elf_reloc_cmp(const void *a, const void *b) {
  const elf_reloc_t *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The relocations of allocated RELA sections (.rela.dyn): the loader's. */
static int elf_load_relocs(elf_reader_t *r) {
  size_t cap = 0;
  for (Elf_Scn *scn = elf_nextscn(r->elf, NULL); scn != NULL;
       scn = elf_nextscn(r->elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL)
      return elf_fail(r, "a section header is unreadable");
    if (sh.sh_type != SHT_RELA || !(sh.sh_flags & SHF_ALLOC))
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    if (d == NULL || sh.sh_entsize == 0)
      continue;
    /* The symbols a relocation names: .dynsym, through sh_link. */
    Elf_Scn *symscn = elf_getscn(r->elf, sh.sh_link);
    Elf_Data *syms = symscn != NULL ? elf_getdata(symscn, NULL) : NULL;
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < n; i++) {
      GElf_Rela rel;
      if (gelf_getrela(d, (int)i, &rel) == NULL)
        return elf_fail(r, "a relocation is unreadable");
      unsigned type = GELF_R_TYPE(rel.r_info);
      elf_reloc_t e = {.offset = rel.r_offset};
      if (type == R_X86_64_RELATIVE) {
        e.value = (uint64_t)rel.r_addend;
        e.known = 1;
      } else if (type == R_X86_64_64) {
        GElf_Sym sym;
        if (syms != NULL &&
            gelf_getsym(syms, (int)GELF_R_SYM(rel.r_info), &sym) != NULL &&
            sym.st_shndx != SHN_UNDEF) {
          e.value = sym.st_value + (uint64_t)rel.r_addend;
          e.known = 1;
        }
      } else {
        continue; /* not a data pointer the registry could hold */
      }
      if (r->nrelocs == cap) {
        cap = cap ? 2 * cap : 256;
        elf_reloc_t *v = realloc(r->relocs, cap * sizeof *v);
        if (v == NULL) {
          tool_error("out of memory reading '%s'", r->p->path);
          return -1;
        }
        r->relocs = v;
      }
      r->relocs[r->nrelocs++] = e;
    }
  }
  if (r->nrelocs > 1)
    qsort(r->relocs, r->nrelocs, sizeof *r->relocs, elf_reloc_cmp);
  return 0;
}

static const elf_reloc_t *elf_reloc_at(const elf_reader_t *r, uint64_t addr) {
  size_t lo = 0, hi = r->nrelocs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->relocs[mid].offset < addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->nrelocs && r->relocs[lo].offset == addr ? &r->relocs[lo]
                                                         : NULL;
}

/* The 8-byte pointer at vaddr inside the section bytes b (at b_addr). */
static int elf_pointer(const elf_reader_t *r, const uint8_t *b, uint64_t b_addr,
                       uint64_t vaddr, uint64_t *out) {
  const elf_reloc_t *rel = elf_reloc_at(r, vaddr);
  if (rel != NULL) {
    if (!rel->known)
      return -1;
    *out = rel->value;
    return 0;
  }
  memcpy(out, b + (vaddr - b_addr), sizeof *out); /* x86-64: little-endian */
  return 0;
}

/* The NUL-terminated string at vaddr, from the section that holds it. */
static const char *elf_string_at(const elf_reader_t *r, uint64_t vaddr) {
  for (Elf_Scn *scn = elf_nextscn(r->elf, NULL); scn != NULL;
       scn = elf_nextscn(r->elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || !(sh.sh_flags & SHF_ALLOC) ||
        sh.sh_type == SHT_NOBITS || vaddr < sh.sh_addr ||
        vaddr >= sh.sh_addr + sh.sh_size)
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    if (d == NULL || d->d_buf == NULL || vaddr - sh.sh_addr >= d->d_size)
      return NULL;
    const char *s = (const char *)d->d_buf + (vaddr - sh.sh_addr);
    size_t left = d->d_size - (vaddr - sh.sh_addr);
    return memchr(s, '\0', left) != NULL ? s : NULL;
  }
  return NULL;
}

static void elf_build_id(elf_reader_t *r) {
  for (Elf_Scn *scn = elf_nextscn(r->elf, NULL); scn != NULL;
       scn = elf_nextscn(r->elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_NOTE)
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    GElf_Nhdr nh;
    size_t off = 0, name_off, desc_off, next;
    while (d != NULL &&
           (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0 &&
          nh.n_descsz <= sizeof r->p->build_id) {
        memcpy(r->p->build_id, (const char *)d->d_buf + desc_off, nh.n_descsz);
        r->p->build_id_len = nh.n_descsz;
        return;
      }
      off = next;
    }
  }
}

static void elf_span(elf_reader_t *r) {
  size_t n;
  if (elf_getphdrnum(r->elf, &n) != 0)
    return;
  r->p->span_lo = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(r->elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
      continue;
    if (ph.p_vaddr < r->p->span_lo)
      r->p->span_lo = ph.p_vaddr;
    if (ph.p_vaddr + ph.p_memsz > r->p->span_hi)
      r->p->span_hi = ph.p_vaddr + ph.p_memsz;
  }
  if (r->p->span_lo == UINT64_MAX)
    r->p->span_lo = 0;
}

/* Whether a symbol table defines name (perm.h's raw-section constructor). */
static int elf_defines(const elf_reader_t *r, const char *name) {
  for (Elf_Scn *scn = elf_nextscn(r->elf, NULL); scn != NULL;
       scn = elf_nextscn(r->elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_SYMTAB ||
        sh.sh_entsize == 0)
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    size_t n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; d != NULL && i < n; i++) {
      GElf_Sym s;
      const char *sn;
      if (gelf_getsym(d, (int)i, &s) != NULL && s.st_shndx != SHN_UNDEF &&
          (sn = elf_strptr(r->elf, sh.sh_link, s.st_name)) != NULL &&
          strcmp(sn, name) == 0)
        return 1;
    }
  }
  return 0;
}

static int elf_read_entries(elf_reader_t *r, Elf_Scn *scn,
                            const GElf_Shdr *sh) {
  elf_program_t *p = r->p;
  Elf_Data *d = elf_getdata(scn, NULL);
  if (d == NULL || d->d_buf == NULL || d->d_size != sh->sh_size)
    return elf_fail(r, "its perm_registry section is unreadable");
  if (d->d_size % ELF_ENTRY_SIZE != 0)
    return elf_bad(r, "perm_registry holds %zu bytes, not a multiple of %u",
                   (size_t)d->d_size, ELF_ENTRY_SIZE);
  size_t n = d->d_size / ELF_ENTRY_SIZE;
  p->globals = calloc(n ? n : 1, sizeof *p->globals);
  if (p->globals == NULL) {
    tool_error("out of memory reading '%s'", p->path);
    return -1;
  }
  const uint8_t *b = d->d_buf;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *e = b + i * ELF_ENTRY_SIZE;
    uint64_t at = sh->sh_addr + i * ELF_ENTRY_SIZE;
    uint32_t version, flags;
    uint64_t name_va, addr, tail[3];
    memcpy(&version, e, 4);
    memcpy(&flags, e + 4, 4);
    memcpy(tail, e + 24, sizeof tail);
    if (elf_pointer(r, b, sh->sh_addr, at + ELF_ENTRY_ADDR, &addr) != 0 ||
        elf_pointer(r, b, sh->sh_addr, at + ELF_ENTRY_NAME, &name_va) != 0)
      return elf_bad(r,
                     "entry %zu points to a symbol the file does not "
                     "define",
                     i);
    if (version == 0 && addr == 0)
      continue; /* padding between translation units, as the runtime skips */
    if (version != PERM_REGISTRY_VERSION)
      return elf_bad(r,
                     "entry %zu is of version %" PRIu32 ", this perm reads "
                     "version %u",
                     i, version, PERM_REGISTRY_VERSION);
    const char *name = elf_string_at(r, name_va);
    if (name == NULL)
      return elf_bad(r, "entry %zu names no string (address 0x%" PRIx64 ")", i,
                     name_va);
    int dup = 0;
    for (uint32_t k = 0; k < p->nglobals && !dup; k++)
      dup = p->globals[k].addr == addr;
    if (dup)
      continue; /* C++ inline variables: one entry per translation unit */
    elf_global_t *g = &p->globals[p->nglobals];
    if ((g->name = strdup(name)) == NULL) {
      tool_error("out of memory reading '%s'", p->path);
      return -1;
    }
    g->addr = addr;
    g->size = tail[0];
    g->align = tail[1];
    g->type_hash = tail[2];
    g->flags = flags;
    p->nglobals++;
  }
  return 0;
}

static int elf_read(elf_reader_t *r) {
  elf_program_t *p = r->p;
  GElf_Ehdr eh;
  if (elf_kind(r->elf) != ELF_K_ELF)
    return elf_fail(r, "it is not an ELF file");
  if (gelf_getehdr(r->elf, &eh) == NULL)
    return elf_fail(r, "its ELF header is unreadable");
  if (gelf_getclass(r->elf) != ELFCLASS64 || eh.e_machine != EM_X86_64)
    return elf_fail(r, "it is not an x86-64 program");
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
    return elf_fail(r, "it is an object file or a core dump, not a program");
  p->pie = eh.e_type == ET_DYN;
  if (elf_getshdrstrndx(r->elf, &r->shstrndx) != 0)
    return elf_fail(r, "it has no section names (a stripped section table?)");
  elf_build_id(r);
  elf_span(r);

  GElf_Shdr sh;
  Elf_Scn *reg = elf_find_section(r, PERM_REGISTRY_SECTION, &sh);
  if (reg != NULL) {
    p->has_registry = 1;
    if (elf_load_relocs(r) != 0 || elf_read_entries(r, reg, &sh) != 0)
      return -1;
  }
  /*
  ** perm.h's constructor registers the whole "persistent" section in every
  ** module with a translation unit built without the plugin (the static
  ** runtime's own objects are such units).  The runtime drops that range
  ** when a named entry has its address, as it de-duplicates by address.
  */
  GElf_Shdr ps;
  if (elf_find_section(r, "persistent", &ps) == NULL || ps.sh_size == 0)
    return 0;
  if (p->has_registry && !elf_defines(r, "perm__register_persistent_section"))
    return 0;
  for (uint32_t i = 0; i < p->nglobals; i++)
    if (p->globals[i].addr == ps.sh_addr)
      return 0;
  p->has_raw = 1;
  p->raw_addr = ps.sh_addr;
  p->raw_size = ps.sh_size;
  return 0;
}

int elf_registry_read(elf_program_t *p, const char *path) {
  memset(p, 0, sizeof *p);
  p->path = path;
  elf_reader_t r = {.p = p};
  if (elf_version(EV_CURRENT) == EV_NONE) {
    tool_error("libelf is unusable (elf_version: %s)", elf_errmsg(-1));
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    tool_error("cannot open the program '%s': %s", path, strerror(errno));
    return -1;
  }
  r.elf = elf_begin(fd, ELF_C_READ, NULL);
  int rc = r.elf != NULL ? elf_read(&r) : elf_fail(&r, "it is not an ELF file");
  if (r.elf != NULL)
    elf_end(r.elf);
  close(fd);
  free(r.relocs);
  if (rc != 0)
    elf_registry_free(p);
  return rc;
}

void elf_registry_free(elf_program_t *p) {
  for (uint32_t i = 0; i < p->nglobals; i++)
    free(p->globals[i].name);
  free(p->globals);
  p->globals = NULL;
  p->nglobals = 0;
}
