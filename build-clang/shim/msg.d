build-clang/shim/msg.o: shim/msg.c shim/fdleak.h common/contract.h \
  shim/out.h

shim/fdleak.h:

common/contract.h:

shim/out.h:
