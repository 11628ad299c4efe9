/* signal: under construction. */
typedef int cpuprof__signal_placeholder;
