/* profbuf: under construction. */
typedef int cpuprof__profbuf_placeholder;
