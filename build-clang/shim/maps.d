build-clang/shim/maps.o: shim/maps.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h shim/safemem.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/safemem.h:
