build-clang/shim/real.o: shim/real.c shim/real.h shim/fdleak.h \
  common/contract.h

shim/real.h:

shim/fdleak.h:

common/contract.h:
