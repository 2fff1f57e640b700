# embed_bytes.cmake — the file-to-C-array conversion shared by
# cmake/embed.cmake (web/) and cmake/profiles.cmake (profiles/).
# Pure CMake: file(READ … HEX) does the byte conversion, no xxd needed.

# Set `out` to the C text "static const unsigned char <var>[] = {…};" holding
# the bytes of `path`, 16 a line, plus a trailing NUL that keeps empty files
# legal C and text files NUL-terminated.
function(embed_bytes path var out)
  file(READ "${path}" hex HEX)
  string(REGEX REPLACE "(................................)" "\\1\n    " hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${out} "static const unsigned char ${var}[] = {\n    ${bytes}0x00};\n" PARENT_SCOPE)
endfunction()
