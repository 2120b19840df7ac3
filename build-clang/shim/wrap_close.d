build-clang/shim/wrap_close.o: shim/wrap_close.c shim/wrap.h \
  shim/fdleak.h common/contract.h shim/real.h

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
