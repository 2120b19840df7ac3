build-clang/shim/python.o: shim/python.c shim/fdleak.h common/contract.h \
  shim/fdtable.h shim/intern.h shim/safemem.h

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/intern.h:

shim/safemem.h:
