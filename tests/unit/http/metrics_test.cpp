#include "http/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace parley::http {
namespace {

TEST(MetricsTest, HistogramBucketsAreCumulative) {
    Metrics m;
    m.observe_request("/r", "GET", 200, 0.0004);  // first bucket
    m.observe_request("/r", "GET", 200, 0.2);     // 0.25 bucket
    m.observe_request("/r", "GET", 500, 20.0);    // only +Inf
    const auto text = m.render();
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_bucket{route="/r",method="GET",le="0.0005"} 1)"
        ),
        std::string::npos
    ) << text;
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_bucket{route="/r",method="GET",le="0.1"} 1)"
        ),
        std::string::npos
    );
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_bucket{route="/r",method="GET",le="0.25"} 2)"
        ),
        std::string::npos
    );
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_bucket{route="/r",method="GET",le="10"} 2)"
        ),
        std::string::npos
    );
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_bucket{route="/r",method="GET",le="+Inf"} 3)"
        ),
        std::string::npos
    );
    EXPECT_NE(
        text.find(R"(parley_http_requests_total{route="/r",method="GET",status="500"} 1)"),
        std::string::npos
    );
}

TEST(MetricsTest, CountsFromManyThreadsAddUp) {
    Metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m] {
            for (int i = 0; i < 1000; ++i) {
                m.observe_request("/r", "GET", 200, 0.001);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_NE(
        m.render().find(R"(parley_http_requests_total{route="/r",method="GET",status="200"} 4000)"),
        std::string::npos
    );
}

TEST(MetricsTest, GaugesAndCountersRender) {
    Metrics m;
    m.add_gauge("parley_test_gauge", "A gauge.", [] { return 42.0; });
    m.describe_counter("parley_test_total", "A counter.");
    m.add_counter("parley_test_total", "kind=\"a\"", 2);
    m.add_counter("parley_test_total", "kind=\"a\"", 3);
    const auto text = m.render();
    EXPECT_NE(text.find("# TYPE parley_test_gauge gauge\nparley_test_gauge 42"), std::string::npos)
        << text;
    EXPECT_NE(text.find("parley_test_total{kind=\"a\"} 5"), std::string::npos) << text;
}

}  // namespace
}  // namespace parley::http
