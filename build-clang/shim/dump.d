build-clang/shim/dump.o: shim/dump.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h shim/dump_text.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/dump_text.h:
