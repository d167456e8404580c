// The uncertainty budget and the decision rules (harness/measure) against figures worked by
// hand: GUM Type A s/sqrt(n), Type B U/k, a/sqrt(3), d/(2 sqrt(3)), quadrature, k = 2, and
// the four ILAC-G8 verdicts at and around each limit.
#define BOOST_TEST_MODULE test_measure_uncertainty
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <ostream>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/measure/decision.hpp"
#include "hilbench/measure/uncertainty.hpp"

namespace hilbench::measure {
// Boost.Test prints a verdict that differs by its text.
std::ostream& operator<<(std::ostream& out, Verdict verdict) { return out << to_string(verdict); }
}  // namespace hilbench::measure

namespace m = hilbench::measure;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_CASE(percentage_error_against_the_reference) {
  BOOST_TEST(m::percentage_error(101.0, 100.0) == 1.0, tt::tolerance(1e-12));
  BOOST_TEST(m::percentage_error(99.5, 100.0) == -0.5, tt::tolerance(1e-12));
  BOOST_CHECK_THROW(m::percentage_error(1.0, 0.0), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(statistics_of_repeated_readings) {
  const std::vector<double> readings{0.10, 0.12, 0.14, 0.16, 0.18};
  const auto s = m::statistics(readings);
  BOOST_TEST(s.n == 5u);
  BOOST_TEST(s.mean == 0.14, tt::tolerance(1e-12));
  // sum of squares 0.004, / 4 = 0.001, s = 0.0316228
  BOOST_TEST(s.stddev == std::sqrt(0.001), tt::tolerance(1e-9));
  BOOST_TEST(s.type_a == std::sqrt(0.001) / std::sqrt(5.0), tt::tolerance(1e-9));
  const std::vector<double> one{0.3};
  const auto single = m::statistics(one);
  BOOST_TEST(!single.spread_known);
  BOOST_TEST(single.type_a == 0.0);
  BOOST_CHECK_THROW(m::statistics(std::vector<double>{}), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(budget_combines_type_a_and_type_b) {
  const std::vector<double> readings{0.10, 0.12, 0.14, 0.16, 0.18};
  m::UncertaintyBudget budget;
  budget.add_type_a("repeatability", readings);
  budget.add_certificate("reference source", 0.08, 2.0);  // u = 0.04
  budget.add_rectangular("phase setting", 0.03);          // u = 0.017321
  budget.add_resolution("register digit", 0.01);          // u = 0.0028868
  const double ua = std::sqrt(0.001) / std::sqrt(5.0);
  const double expected =
      std::sqrt(ua * ua + 0.04 * 0.04 + 0.0003 + std::pow(0.01 / (2 * std::sqrt(3.0)), 2));
  BOOST_TEST(budget.combined() == expected, tt::tolerance(1e-9));
  BOOST_TEST(budget.expanded() == 2 * expected, tt::tolerance(1e-9));
  // Welch-Satterthwaite: only the Type A term has finite dof (4).
  BOOST_TEST(budget.effective_degrees_of_freedom() == std::pow(expected, 4) / (std::pow(ua, 4) / 4),
             tt::tolerance(1e-9));
  const auto json = budget.to_json();
  BOOST_TEST(json["contributions"].size() == 4u);
  BOOST_TEST(json["k"].get<double>() == 2.0);
  BOOST_TEST(json["coverage"].get<std::string>().find("95 %") != std::string::npos);
  // Round trip: the journaled contributions rebuild the same figures.
  const auto again = m::UncertaintyBudget::from_json(json["contributions"]);
  BOOST_TEST(again.combined() == budget.combined(), tt::tolerance(1e-12));
  BOOST_TEST(again.effective_degrees_of_freedom() == budget.effective_degrees_of_freedom(),
             tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(budget_refuses_bad_inputs) {
  m::UncertaintyBudget budget;
  BOOST_CHECK_THROW(budget.add_certificate("ref", -0.1, 2.0), hilbench::ConfigError);
  BOOST_CHECK_THROW(budget.add_certificate("ref", 0.1, 0.0), hilbench::ConfigError);
  BOOST_CHECK_THROW(budget.add_type_a("one reading", std::vector<double>{1.0}),
                    hilbench::ConfigError);
  BOOST_CHECK_THROW(m::UncertaintyBudget::from_json(nlohmann::json::parse(
                        R"([{"name": "x", "distribution": "triangular", "input": 1}])")),
                    hilbench::ConfigError);
  BOOST_TEST(budget.combined() == 0.0);
}

BOOST_AUTO_TEST_CASE(simple_acceptance_is_binary_on_the_limit) {
  const m::Limits mpe{-1.0, 1.0};
  BOOST_TEST(m::decide(1.0, mpe, 0.2, m::DecisionRule::simple_acceptance) == m::Verdict::pass);
  BOOST_TEST(m::decide(-1.01, mpe, 0.2, m::DecisionRule::simple_acceptance) == m::Verdict::fail);
}

BOOST_AUTO_TEST_CASE(guard_band_gives_four_verdicts) {
  const m::Limits mpe{-1.0, 1.0};
  const auto rule = m::DecisionRule::guard_band;
  BOOST_TEST(m::decide(0.75, mpe, 0.25, rule) == m::Verdict::pass);  // on MPE - U
  BOOST_TEST(m::decide(0.9, mpe, 0.25, rule) == m::Verdict::conditional_pass);
  BOOST_TEST(m::decide(-1.1, mpe, 0.25, rule) == m::Verdict::conditional_fail);
  BOOST_TEST(m::decide(1.25, mpe, 0.25, rule) == m::Verdict::conditional_fail);  // on MPE + U
  BOOST_TEST(m::decide(1.3, mpe, 0.25, rule) == m::Verdict::fail);
  // One-sided limit (at most one pulse): only the upper side counts.
  const m::Limits upper_only{std::nullopt, 1.0};
  BOOST_TEST(m::decide(-50.0, upper_only, 0.25, rule) == m::Verdict::pass);
  BOOST_TEST(std::string(m::to_string(m::Verdict::conditional_pass)) == "conditional pass");
  BOOST_CHECK_THROW(m::decide(0.0, m::Limits{}, 0.1, rule), hilbench::ConfigError);
  BOOST_CHECK_THROW(m::decide(0.0, mpe, -0.1, rule), hilbench::ConfigError);
  BOOST_CHECK_THROW(m::decision_rule_from_string("shared_risk"), hilbench::ConfigError);
}
