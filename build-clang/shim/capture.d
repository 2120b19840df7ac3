build-clang/shim/capture.o: shim/capture.c shim/fdleak.h \
  common/contract.h

shim/fdleak.h:

common/contract.h:
