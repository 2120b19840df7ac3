build-clang/shim/fdinfo.o: shim/fdinfo.c shim/dump.h shim/fdleak.h \
  common/contract.h shim/fdtable.h shim/out.h shim/intern.h

shim/dump.h:

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/out.h:

shim/intern.h:
