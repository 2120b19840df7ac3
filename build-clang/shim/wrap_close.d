build-clang/shim/wrap_close.o: shim/wrap_close.c shim/fdtable.h \
  shim/wrap.h shim/fdleak.h common/contract.h shim/real.h

shim/fdtable.h:

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
