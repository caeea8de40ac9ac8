// AdmissionControl without a server: contexts made by hand, calls reported as the interceptor
// would. The token check needs client metadata, which only a real call carries, so it is
// covered in service_host_test.
#include "lib/rpc/admission_control.h"

#include <grpcpp/server_context.h>

#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::rpc {
namespace {

using ::testing::HasSubstr;

TEST(AdmissionControlTest, AdmitsUpToTheLimitThenSaysBusy) {
  AdmissionControl admission("", 2);
  grpc::ServerContext a, b, c;
  admission.CallStarted(&a);
  admission.CallStarted(&b);
  const uint64_t c_id = admission.CallStarted(&c);
  EXPECT_TRUE(admission.Admit(&a).ok());
  EXPECT_TRUE(admission.Admit(&b).ok());
  grpc::Status busy = admission.Admit(&c);
  EXPECT_EQ(busy.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(busy.error_message(), HasSubstr("server busy: 2 calls in flight (limit 2)"));
  EXPECT_EQ(admission.calls_admitted(), 2);
  admission.CallEnded(&c, c_id);  // a rejected call ends without giving anything back
  EXPECT_EQ(admission.calls_admitted(), 2);
}

TEST(AdmissionControlTest, EndingAnAdmittedCallFreesItsSlot) {
  AdmissionControl admission("", 1);
  grpc::ServerContext a, b;
  const uint64_t a_id = admission.CallStarted(&a);
  admission.CallStarted(&b);
  ASSERT_TRUE(admission.Admit(&a).ok());
  EXPECT_FALSE(admission.Admit(&b).ok());
  admission.CallEnded(&a, a_id);
  EXPECT_EQ(admission.calls_admitted(), 0);
  EXPECT_TRUE(admission.Admit(&b).ok());
}

TEST(AdmissionControlTest, SlotIsFreeOnceTheStatusIsSentButTheDrainWaitsForTheEnd) {
  AdmissionControl admission("", 1);
  grpc::ServerContext a, b;
  const uint64_t a_id = admission.CallStarted(&a);
  admission.CallStarted(&b);
  ASSERT_TRUE(admission.Admit(&a).ok());
  admission.CallFinishing(&a, a_id);
  EXPECT_EQ(admission.calls_admitted(), 1);
  EXPECT_FALSE(admission.WaitForAdmittedCallsToEnd(absl::Now()));
  EXPECT_TRUE(admission.Admit(&b).ok());  // a's slot came back with its status

  admission.StartDraining();
  AdmissionControl* control = &admission;
  std::thread end_calls([control, &a, &b, a_id] {
    absl::SleepFor(absl::Milliseconds(20));
    control->CallEnded(&a, a_id);
    control->CallEnded(&b, a_id + 1);
  });
  EXPECT_TRUE(admission.WaitForAdmittedCallsToEnd(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(admission.calls_admitted(), 0);
  end_calls.join();
}

TEST(AdmissionControlTest, AskingTwiceTakesOneSlot) {
  AdmissionControl admission("", 1);
  grpc::ServerContext a;
  admission.CallStarted(&a);
  EXPECT_TRUE(admission.Admit(&a).ok());
  EXPECT_TRUE(admission.Admit(&a).ok());
  EXPECT_EQ(admission.calls_admitted(), 1);
}

TEST(AdmissionControlTest, ZeroMeansNoLimit) {
  AdmissionControl admission("", 0);
  grpc::ServerContext contexts[50];
  for (grpc::ServerContext& context : contexts) {
    admission.CallStarted(&context);
    EXPECT_TRUE(admission.Admit(&context).ok());
  }
  EXPECT_EQ(admission.calls_admitted(), 50);
}

TEST(AdmissionControlTest, DrainingAnswersUnavailableButKeepsAdmittedCalls) {
  AdmissionControl admission("", 0);
  grpc::ServerContext early, late;
  admission.CallStarted(&early);
  admission.CallStarted(&late);
  ASSERT_TRUE(admission.Admit(&early).ok());
  admission.StartDraining();
  EXPECT_TRUE(admission.draining());
  EXPECT_TRUE(admission.Admit(&early).ok());
  EXPECT_EQ(admission.Admit(&late).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(AdmissionControlTest, DrainingIsReportedBeforeAuthAndLimit) {
  AdmissionControl admission("token", 1);
  grpc::ServerContext context;
  admission.CallStarted(&context);
  admission.StartDraining();
  EXPECT_EQ(admission.Admit(&context).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(AdmissionControlTest, MissingTokenIsUnauthenticated) {
  AdmissionControl admission("token", 1);
  grpc::ServerContext context;  // no client metadata at all
  admission.CallStarted(&context);
  grpc::Status status = admission.Admit(&context);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("authorization: Bearer"));
}

TEST(AdmissionControlTest, UntrackedCallIsAnInternalError) {
  AdmissionControl admission("", 0);
  grpc::ServerContext context;
  EXPECT_EQ(admission.Admit(&context).error_code(), grpc::StatusCode::INTERNAL);
}

TEST(AdmissionControlTest, AReusedContextStartsFresh) {
  AdmissionControl admission("", 1);
  grpc::ServerContext context;
  const uint64_t first = admission.CallStarted(&context);
  ASSERT_TRUE(admission.Admit(&context).ok());
  // The same object carries a new call before the first one's end was reported.
  const uint64_t second = admission.CallStarted(&context);
  EXPECT_EQ(admission.calls_admitted(), 0);
  admission.CallEnded(&context, first);  // late report of the old call: ignored
  ASSERT_TRUE(admission.Admit(&context).ok());
  EXPECT_EQ(admission.calls_admitted(), 1);
  admission.CallEnded(&context, second);
  EXPECT_EQ(admission.calls_admitted(), 0);
}

}  // namespace
}  // namespace r1serve::rpc
