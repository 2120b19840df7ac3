build-clang/shim/dump.o: shim/dump.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h shim/intern.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/intern.h:
