build-clang/shim/dump_text.o: shim/dump_text.c shim/dump_text.h \
  shim/dump.h shim/fdleak.h common/contract.h shim/fdtable.h shim/out.h \
  shim/intern.h common/report_text.h

shim/dump_text.h:

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/intern.h:

common/report_text.h:
