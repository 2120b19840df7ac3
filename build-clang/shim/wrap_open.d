build-clang/shim/wrap_open.o: shim/wrap_open.c shim/fdtable.h shim/wrap.h \
  shim/fdleak.h common/contract.h shim/real.h

shim/fdtable.h:

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
