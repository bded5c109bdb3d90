/* Given to cppcheck (make check) with --include: the library macros it
 * meets in loops. It reads no system header (that is slow and not its
 * job), so without these it gives up on the files that use them. */
#define cJSON_ArrayForEach(e, a) for ((e) = (a) ? (a)->child : NULL; (e); (e) = (e)->next)
#define TAILQ_FOREACH(v, h, f) for ((v) = (h)->tqh_first; (v); (v) = (v)->f.tqe_next)
