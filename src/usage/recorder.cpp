#include "usage/recorder.hpp"

#include "common/ids.hpp"

namespace parley::usage {

namespace asio = boost::asio;

std::string_view call_kind_name(CallKind kind) noexcept {
    switch (kind) {
        case CallKind::compat_chat:
            return "compat_chat";
        case CallKind::compat_messages:
            return "compat_messages";
        case CallKind::title:
            return "title";
        case CallKind::summary:
            return "summary";
    }
    return "compat_chat";
}

UsageRecorder::UsageRecorder(store::Store& store, Clock clock)
    : store_(store),
      clock_(std::move(clock)) {}

asio::awaitable<Result<void>> UsageRecorder::record(Principal who, ModelCall call) {
    if (call.input_tokens == 0 && call.output_tokens == 0 && call.cost_micros == 0) {
        co_return Result<void>{};
    }
    store::UsageRecord r;
    r.id = new_uuid_v7();
    r.user_id = who.user_id;
    if (!who.api_key_id.empty()) {
        r.api_key_id = who.api_key_id;
    }
    r.kind = std::string(call_kind_name(call.kind));
    r.model = std::move(call.model);
    r.provider = std::move(call.provider);
    r.input_tokens = call.input_tokens;
    r.output_tokens = call.output_tokens;
    r.cost_micros = call.cost_micros;
    r.created_at = clock_();
    co_return co_await store_.insert_usage_record(std::move(r));
}

}  // namespace parley::usage
