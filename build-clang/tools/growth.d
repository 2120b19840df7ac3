build-clang/tools/growth.o: tools/growth.c tools/growth.h tools/model.h \
  tools/dumpfile.h common/contract.h tools/symbolize.h tools/render.h \
  tools/json.h common/report_text.h tools/safefile.h tools/util.h

tools/growth.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

tools/render.h:

tools/json.h:

common/report_text.h:

tools/safefile.h:

tools/util.h:
