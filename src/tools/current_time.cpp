// current_time: the time now in a time zone.
#include <cstdio>

#include "tools/builtins.hpp"
#include "tools/registry.hpp"
#include "tools/time_zone.hpp"

namespace parley::tools {

namespace {

namespace chr = std::chrono;

constexpr std::string_view kWeekdays[] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

// "2026-07-01T14:00:00+02:00": the local date and time at `t` with `offset` in force.
std::string local_iso8601(Seconds t, std::int32_t offset) {
    const auto local = t + chr::seconds(offset);
    const auto day = chr::floor<chr::days>(local);
    const chr::year_month_day ymd(day);
    const chr::hh_mm_ss hms(local - day);
    char buf[32];
    std::snprintf(
        buf,
        sizeof buf,
        "%04d-%02u-%02uT%02d:%02d:%02d",
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()),
        static_cast<int>(hms.hours().count()),
        static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count())
    );
    return std::string(buf) + format_utc_offset(offset);
}

class CurrentTimeTool final : public Tool {
public:
    CurrentTimeTool(Clock clock, std::shared_ptr<const ZoneDatabase> zones)
        : clock_(std::move(clock)),
          zones_(std::move(zones)) {
        spec_.name = std::string(kCurrentTimeTool);
        spec_.description =
            "Gives the current date and time in a time zone: an IANA name such as "
            "\"Europe/Paris\" or \"America/New_York\", \"UTC\", or a fixed offset such as "
            "\"+05:30\". Defaults to UTC.";
        spec_.parameters =
            R"({"type":"object","properties":{"timezone":{"type":"string","description":)"
            R"("IANA time zone name, \"UTC\" or an offset like \"+05:30\"; default UTC"}}})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    boost::asio::awaitable<ToolResult> run(
        const ToolContext& /*ctx*/, const boost::json::object& arguments
    ) const override {
        const auto asked = optional_string_argument(arguments, "timezone", kMaxZoneNameLength);
        if (!asked) {
            co_return ToolResult::failure(asked.error().message);
        }
        // Absent, null or blank: UTC.
        std::string name = asked->value_or("");
        if (name.empty()) {
            name = "UTC";
        }
        const auto zone = zones_->find(name);
        if (!zone) {
            co_return ToolResult::failure(zone.error().message);
        }
        const auto now = chr::floor<chr::seconds>(clock_());
        const auto local = zone->zone->at(now);
        const chr::weekday wd(chr::floor<chr::days>(now + chr::seconds(local.utc_offset)));
        boost::json::object body;
        body["timezone"] = zone->name;
        body["iso8601"] = local_iso8601(now, local.utc_offset);
        body["utc_offset"] = format_utc_offset(local.utc_offset);
        body["abbreviation"] = local.abbreviation;
        body["dst"] = local.is_dst;
        body["day_of_week"] = kWeekdays[wd.c_encoding()];
        body["utc"] = to_iso8601(now);
        co_return ToolResult::success(body);
    }

private:
    Clock clock_;
    std::shared_ptr<const ZoneDatabase> zones_;
    llm::ToolSpec spec_;
};

}  // namespace

std::unique_ptr<Tool> make_current_time_tool(
    Clock clock, std::shared_ptr<const ZoneDatabase> zones
) {
    if (!zones) {
        zones = std::make_shared<const ZoneDatabase>();
    }
    if (!clock) {
        clock = system_now;
    }
    return std::make_unique<CurrentTimeTool>(std::move(clock), std::move(zones));
}

}  // namespace parley::tools
