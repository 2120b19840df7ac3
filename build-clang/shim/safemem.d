build-clang/shim/safemem.o: shim/safemem.c shim/safemem.h shim/fdleak.h \
  common/contract.h

shim/safemem.h:

shim/fdleak.h:

common/contract.h:
