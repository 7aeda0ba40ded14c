// NdjsonReader: any bytes, split anywhere, give the same lines as the whole stream at once; no line
// is blank, holds an LF or exceeds the bound.
#include <optional>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "net/ndjson_reader.hpp"

using parley::fuzz::check;
using parley::net::NdjsonReader;

namespace {

bool blank(const std::string& line) {
    return line.find_first_not_of(" \t\r") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    const std::size_t max = (in.byte() & 1) != 0 ? 32 : NdjsonReader::kDefaultMaxLine;
    const std::size_t step = 1 + in.byte() % 16;
    const auto stream = in.rest();

    NdjsonReader whole(max);
    auto expected = whole.feed(stream);
    if (auto last = whole.finish()) {
        expected.push_back(std::move(*last));
    }

    NdjsonReader pieces(max);
    std::vector<std::string> got;
    for (std::size_t at = 0; at < stream.size(); at += step) {
        auto lines = pieces.feed(stream.substr(at, step));
        got.insert(got.end(), lines.begin(), lines.end());
    }
    if (auto last = pieces.finish()) {
        got.push_back(std::move(*last));
    }

    check(whole.failed() == pieces.failed(), "split feed changed whether the reader failed");
    check(whole.failed() || expected == got, "split feed changed the lines");
    for (const auto& line : expected) {
        check(line.size() <= max, "a line past the bound");
        check(line.find('\n') == std::string::npos, "a line holding an LF");
        check(!blank(line), "a blank line");
    }
    return 0;
}
