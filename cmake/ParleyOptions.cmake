# Warnings, sanitizers and the interface target every Parley library links.
add_library(parley_options INTERFACE)
target_compile_options(parley_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor -Wold-style-cast
    # Boost's own headers trip -Wconversion in templates instantiated from our code; they are system
    # headers, so this only concerns Parley's code.
)
if(PARLEY_WERROR)
    target_compile_options(parley_options INTERFACE -Werror)
endif()
if(PARLEY_SANITIZE)
    target_compile_options(parley_options INTERFACE -fsanitize=${PARLEY_SANITIZE} -fno-omit-frame-pointer
                                                    -fno-sanitize-recover=all)
    target_link_options(parley_options INTERFACE -fsanitize=${PARLEY_SANITIZE})
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND PARLEY_SANITIZE MATCHES "undefined")
        # clang 14's -fsanitize=function fails on coroutines ("Cannot represent a difference across
        # sections"); the rest of UBSan stays on.
        target_compile_options(parley_options INTERFACE -fno-sanitize=function)
    endif()
endif()
target_include_directories(parley_options INTERFACE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
target_compile_definitions(parley_options INTERFACE PARLEY_VERSION="${PROJECT_VERSION}")
