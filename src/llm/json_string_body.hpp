// A JSON string's text from its body, the bytes between its quotes, by Boost.JSON's own parser and
// no document around it (issue 14: the OpenAI decoder's shortcut for a chunk that repeats the last
// one's envelope around another text). Pure code.
#pragma once

#include <string>
#include <string_view>

namespace parley::llm {

// True when `body` in quotes is one JSON string that Boost.JSON's parser accepts, with its text
// (the escapes of RFC 8259 undone) in `text`. On false `text` is unspecified.
bool json_string_body_text(std::string_view body, std::string& text);

}  // namespace parley::llm
