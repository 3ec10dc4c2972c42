/*
** uffd_wp.h - the kernel interfaces write tracking needs (Linux 6.7+:
** UFFD_FEATURE_WP_ASYNC, UFFD_FEATURE_WP_UNPOPULATED, the PAGEMAP_SCAN
** ioctl, also used to find split huge pages: collapse.c), which Debian
** 12's kernel headers (6.1) predate.  Values are the
** kernel's ABI (include/uapi/linux/userfaultfd.h and fs.h); the runtime
** probes for them at run time and falls back to full images without them.
*/
#ifndef PERM_UFFD_WP_H
#define PERM_UFFD_WP_H

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1u << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1u << 15)
#endif

#ifndef PAGEMAP_SCAN
struct page_region {
  uint64_t start;      /* first byte */
  uint64_t end;        /* past the last byte */
  uint64_t categories; /* PAGE_IS_* */
};

struct pm_scan_arg {
  uint64_t size;  /* sizeof(struct pm_scan_arg) */
  uint64_t flags; /* PM_SCAN_* */
  uint64_t start, end;
  uint64_t walk_end; /* out: where the walk stopped */
  uint64_t vec;      /* struct page_region[vec_len] */
  uint64_t vec_len;
  uint64_t max_pages;
  uint64_t category_inverted;
  uint64_t category_mask;
  uint64_t category_anyof_mask;
  uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1u << 0)   /* write-protect what matched */
#define PM_SCAN_CHECK_WPASYNC (1u << 1) /* fail on an untracked range */
#define PAGE_IS_WPALLOWED (1u << 0)
#define PAGE_IS_WRITTEN (1u << 1)
#define PAGE_IS_FILE (1u << 2)
#define PAGE_IS_PRESENT (1u << 3)
#define PAGE_IS_SWAPPED (1u << 4)
#define PAGE_IS_PFNZERO (1u << 5)
#define PAGE_IS_HUGE (1u << 6)
#endif

#endif /* PERM_UFFD_WP_H */
