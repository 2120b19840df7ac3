build-clang/shim/unwind_io.o: shim/unwind_io.c shim/safemem.h \
  shim/fdleak.h common/contract.h shim/wrap.h shim/real.h

shim/safemem.h:

shim/fdleak.h:

common/contract.h:

shim/wrap.h:

shim/real.h:
