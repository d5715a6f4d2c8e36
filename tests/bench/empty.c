/* empty.so: a shared library with nothing in it, preloaded by the bench to tell what any
 * LD_PRELOAD costs a process (open, map, relocate) from what llmshim itself adds. */
int llmshim_bench_empty;
