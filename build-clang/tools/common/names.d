build-clang/tools/common/names.o: common/names.c common/contract.h

common/contract.h:
