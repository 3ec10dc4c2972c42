/*
** commit.h - putting a written image in place atomically, keeping the one
** before it, in a directory that other users may share.
*/
#ifndef PERM_COMMIT_H
#define PERM_COMMIT_H

#include "perm_internal.h"

typedef struct perm_commit_s {
  char path[4096]; /* NAME */
  char tmp[4200];  /* NAME.tmp-RANDOM: the new image while it is written */
  char keep[4200]; /* NAME.old-RANDOM: the replaced NAME.prev, until durable */
  char member[4200]; /* NAME.GEN-CHECKSUM, its chain name, or "" */
  int fd;          /* open on tmp, for the writer; -1 once it closed it */
  int kept;        /* keep names the replaced NAME.prev */
  int committed;   /* perm__commit_finish failed after the new image took
                      its place, and it stays: NAME is new, NAME.prev the
                      old NAME (the directory sync failed, then its undo) */
} perm_commit_t;

/*
** 0 when path is missing or a regular file; else an error naming what it is
** (ELOOP and where a symbolic link points, EINVAL), prefixed "who('path'):"
** when who is not NULL.  An image is never reached through a link.
*/
PERM_HIDDEN int perm__commit_check_target(const char *path, const char *who);
/*
** Creates NAME.tmp-RANDOM (0600, exclusive, no symlink followed); refuses a
** NAME that is a symbolic link or not a regular file.
*/
PERM_HIDDEN int perm__commit_begin(perm_commit_t *c, const char *path);
/*
** The written, synced and closed temporary becomes NAME; the NAME it
** replaces becomes NAME.prev (a copy of the caller's own, 0600, if it was
** not the caller's file or others could write it); the directory is synced.
** At every instant NAME and the generation before it exist under a name; if
** a step fails, NAME and NAME.prev are what they were -- unless undoing
** the renames failed too: then c->committed is set, NAME is the new image
** and NAME.prev the old NAME (the caller adopts it, and cleans up).
*/
PERM_HIDDEN int perm__commit_finish(perm_commit_t *c);
/*
** After the durability point: frees the replaced NAME.prev's blocks, and
** the chain members that neither NAME's nor NAME.prev's chain needs.
*/
PERM_HIDDEN void perm__commit_cleanup(perm_commit_t *c);
/*
** A delta is about to name parent (a chain member name) as its parent: if
** that name is missing, NAME must be that image (its header checksum):
** link it there.
*/
PERM_HIDDEN int perm__commit_keep_parent(const char *path, const char *parent,
                                         uint64_t checksum);
/* Removes the temporary (the image was not committed). */
PERM_HIDDEN void perm__commit_abort(perm_commit_t *c);
/*
** Before writing NAME again, with its lock held: removes this user's
** temporaries left by killed checkpoints, and puts back a NAME.prev that a
** crash left under its keep name.
*/
PERM_HIDDEN void perm__commit_recover(const char *path);
/*
** 1 when NAME.prev holds NAME's own generation (the same file, or a copy):
** a commit was interrupted between its renames.
*/
PERM_HIDDEN int perm__commit_prev_is_name(const char *path);
/* fsync of the directory holding path. */
PERM_HIDDEN int perm__commit_sync_dir(const char *path);

#endif /* PERM_COMMIT_H */
