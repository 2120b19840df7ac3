build-clang/shim/signals.o: shim/signals.c shim/fdleak.h \
  common/contract.h shim/wrap.h shim/real.h

shim/fdleak.h:

common/contract.h:

shim/wrap.h:

shim/real.h:
