build-clang/shim/wrap_clone.o: shim/wrap_clone.c shim/wrap.h \
  shim/fdleak.h common/contract.h shim/real.h

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
