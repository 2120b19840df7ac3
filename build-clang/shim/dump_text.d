build-clang/shim/dump_text.o: shim/dump_text.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h shim/intern.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/intern.h:
