// Page cursors: any text decodes or is refused, never a crash; what decodes encodes to a cursor
// that decodes to the same position. Mode 0 takes the input as the cursor text; mode 1 as the
// bytes inside the base64url, to reach the parsing of time, id and offset.
#include <string>

#include "auth/tokens.hpp"
#include "conversations/cursor.hpp"
#include "fuzz_input.hpp"

using parley::fuzz::check;
namespace conv = parley::conversations;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    const bool inner = (in.byte() & 1) != 0;
    const std::string text =
        inner ? parley::auth::base64url_encode(in.rest()) : std::string(in.rest());

    if (const auto at = conv::decode_conversation_cursor(text)) {
        const auto again = conv::decode_conversation_cursor(conv::encode_conversation_cursor(*at));
        check(
            again && again->updated_at == at->updated_at && again->id == at->id,
            "a conversation cursor that does not round-trip"
        );
    }
    if (const auto offset = conv::decode_offset_cursor(text)) {
        check(*offset >= 0, "a negative offset");
        const auto again = conv::decode_offset_cursor(conv::encode_offset_cursor(*offset));
        check(again == offset, "an offset cursor that does not round-trip");
    }
    return 0;
}
