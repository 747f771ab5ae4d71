# Writes the module's XML documentation, pbxstate-en_US.xml, from the /*** DOCUMENTATION ... ***/
# blocks of its sources: the blocks Asterisk's own build collects into core-en_US.xml for its
# in-tree modules (build_tools/get_documentation). An out-of-tree module's documentation is read by
# Asterisk at start from <astdatadir>/documentation/thirdparty/*-en_US.xml (main/xmldoc.c); without
# it `core show function PBXSTATE_LOCATION` has no text and every load logs that it is missing.
#
#   cmake -DOUTPUT=<file> -DSOURCES=<a|b|c> -P module_docs.cmake
#
# A source without a block is fine; no block in any source is an error (exit 1, naming the sources).
if(NOT OUTPUT OR NOT SOURCES)
  message(FATAL_ERROR "module_docs.cmake: set -DOUTPUT=<file> and -DSOURCES=<list of sources>")
endif()

string(REPLACE "|" ";" SOURCES "${SOURCES}")
set(_blocks "")
foreach(_source IN LISTS SOURCES)
  file(READ "${_source}" _text)
  # One source may hold several blocks; each runs from its opening line to the next "***/".
  while(_text MATCHES "/\\*\\*\\* DOCUMENTATION\n(.*)$")
    set(_rest "${CMAKE_MATCH_1}")
    string(FIND "${_rest}" "***/" _end)
    if(_end LESS 0)
      message(FATAL_ERROR "${_source}: a /*** DOCUMENTATION block has no closing ***/")
    endif()
    string(SUBSTRING "${_rest}" 0 ${_end} _block)
    string(APPEND _blocks "${_block}")
    math(EXPR _after "${_end} + 4")
    string(SUBSTRING "${_rest}" ${_after} -1 _text)
  endwhile()
endforeach()
if(_blocks STREQUAL "")
  message(FATAL_ERROR "module_docs.cmake: no /*** DOCUMENTATION block in ${SOURCES}")
endif()

file(WRITE "${OUTPUT}.tmp"
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<!DOCTYPE docs SYSTEM \"appdocsxml.dtd\">\n"
  "<docs xmlns:xi=\"http://www.w3.org/2001/XInclude\">\n"
  "${_blocks}"
  "</docs>\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
