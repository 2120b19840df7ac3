build-clang/shim/dest.o: shim/dest.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:
