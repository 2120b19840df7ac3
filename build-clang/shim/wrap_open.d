build-clang/shim/wrap_open.o: shim/wrap_open.c shim/wrap.h shim/fdleak.h \
  common/contract.h shim/real.h

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
