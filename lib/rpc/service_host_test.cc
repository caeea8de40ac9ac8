// End-to-end tests of ServiceHost over real sockets (port 0): health, reflection, /metrics,
// bearer-token auth, the concurrency limit and the SIGTERM drain, with a sync and a callback
// echo service whose handlers call Admit() first.
#include "lib/rpc/service_host.h"

#include <arpa/inet.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "echo_test_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lib/rpc/client_channel.h"

namespace r1serve::rpc {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::r1serve::rpc_test::CallbackEcho;
using ::r1serve::rpc_test::EchoReply;
using ::r1serve::rpc_test::EchoRequest;
using ::r1serve::rpc_test::SyncEcho;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(10);  // generous: CI machines are slow

// Self-signed for "localhost", valid 2020-2120, made for these tests only.
constexpr char kTestCertPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBVDCB+6ADAgECAhQiPmyrX+iDXUn2BXxlBqbpPDfjzDAKBggqhkjOPQQDAjAU
MRIwEAYDVQQDDAlsb2NhbGhvc3QwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEw
MDAwMDBaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49
AwEHA0IABPHo3YTUpjuyF4CG0+TgAh5BlML0BLlg1pSXCM6IqCwGbU3UAGA519kq
fpQ+hRcLApd6Bl7EwOH3ST2bx4SGs+CjKTAnMBQGA1UdEQQNMAuCCWxvY2FsaG9z
dDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIG0LlFZFPvmV1Q+o
Zss5Ax6qQdQt0y/dovroHej+x3iFAiEAld7PoNFjjLqoCPoji5D4gydJL4QEy4/E
3S+yq1CxOuw=
-----END CERTIFICATE-----
)";
constexpr char kTestKeyPem[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtKqt7f3O0SWlDhTP
kU+eGITLcEkBFPEx2bVqgRsKgIOhRANCAATx6N2E1KY7sheAhtPk4AIeQZTC9AS5
YNaUlwjOiKgsBm1N1ABgOdfZKn6UPoUXCwKXegZexMDh90k9m8eEhrPg
-----END PRIVATE KEY-----
)";

// Holds "hold" calls until the test opens it; counts the calls that reached it.
class Gate {
 public:
  ~Gate() { Open(); }

  void Arrive() {
    absl::MutexLock lock(&mu_);
    ++arrived_;
  }
  bool WaitForArrivals(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return arrived_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  // Sync handlers block here.
  bool WaitOpen() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&open_), kWait);
  }
  // Callback handlers leave `finish` here; it runs when the gate opens.
  void WhenOpen(std::function<void()> finish) {
    {
      absl::MutexLock lock(&mu_);
      if (!open_) {
        waiting_.push_back(std::move(finish));
        return;
      }
    }
    finish();
  }
  void Open() {
    std::vector<std::function<void()>> waiting;
    {
      absl::MutexLock lock(&mu_);
      open_ = true;
      waiting.swap(waiting_);
    }
    for (auto& finish : waiting) finish();
  }

 private:
  absl::Mutex mu_;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
};

class SyncEchoService final : public SyncEcho::Service {
 public:
  SyncEchoService(ServiceHost* host, Gate* gate) : host_(host), gate_(gate) {}

  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* request,
                    EchoReply* reply) override {
    if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) return admitted;
    if (request->hold()) {
      gate_->Arrive();
      if (!gate_->WaitOpen()) return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "gate");
    }
    reply->set_text(request->text());
    return grpc::Status::OK;
  }

 private:
  ServiceHost* host_;
  Gate* gate_;
};

class CallbackEchoService final : public CallbackEcho::CallbackService {
 public:
  CallbackEchoService(ServiceHost* host, Gate* gate) : host_(host), gate_(gate) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoRequest* request,
                                 EchoReply* reply) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
      reactor->Finish(admitted);
      return reactor;
    }
    reply->set_text(request->text());
    if (request->hold()) {
      // Returns now and finishes later from the test thread: the admission slot must stay
      // taken until then.
      gate_->Arrive();
      gate_->WhenOpen([reactor] { reactor->Finish(grpc::Status::OK); });
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  ServiceHost* host_;
  Gate* gate_;
};

ServerOptions TestOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.drain_timeout = absl::Seconds(5);
  // Off unless a test reads /metrics: stopping the metrics server takes civetweb ~2 s.
  options.metrics_port = -1;
  return options;
}

// GET over a plain socket; returns the body, or "" on any failure.
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout = {10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

class ServiceHostTest : public ::testing::Test {
 protected:
  void TearDown() override {
    gate_.Open();
    if (host_ != nullptr) host_->Shutdown();
  }

  // Builds the host with both echo services and starts it.
  void StartHost(ServerOptions options) {
    host_ = std::make_unique<ServiceHost>("echo", std::move(options));
    sync_echo_ = std::make_unique<SyncEchoService>(host_.get(), &gate_);
    callback_echo_ = std::make_unique<CallbackEchoService>(host_.get(), &gate_);
    host_->AddService(sync_echo_.get());
    host_->AddService(callback_echo_.get());
    ASSERT_TRUE(host_->Start().ok());
    ASSERT_GT(host_->grpc_port(), 0);
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", host_->grpc_port()); }

  std::shared_ptr<grpc::Channel> Channel(const ChannelOptions& options = {}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateChannel(Target(), options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  grpc::Status SyncEchoCall(const std::shared_ptr<grpc::Channel>& channel, bool hold = false) {
    EchoRequest request;
    request.set_text("hi");
    request.set_hold(hold);
    EchoReply reply;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    grpc::Status status = SyncEcho::NewStub(channel)->Echo(&context, request, &reply);
    if (status.ok()) {
      EXPECT_EQ(reply.text(), "hi");
    }
    return status;
  }

  grpc::Status CallbackEchoCall(const std::shared_ptr<grpc::Channel>& channel, bool hold = false) {
    EchoRequest request;
    request.set_text("hi");
    request.set_hold(hold);
    EchoReply reply;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    grpc::Status status = CallbackEcho::NewStub(channel)->Echo(&context, request, &reply);
    if (status.ok()) {
      EXPECT_EQ(reply.text(), "hi");
    }
    return status;
  }

  // The overall ("") health status, or UNKNOWN when the call itself fails.
  HealthCheckResponse::ServingStatus HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    HealthCheckResponse response;
    grpc::Status status =
        Health::NewStub(channel)->Check(&context, HealthCheckRequest(), &response);
    return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
  }

  Gate gate_;
  std::unique_ptr<ServiceHost> host_;
  std::unique_ptr<SyncEchoService> sync_echo_;
  std::unique_ptr<CallbackEchoService> callback_echo_;
};

TEST_F(ServiceHostTest, LogsTheListeningLineWithBothPorts) {
  ServerOptions options = TestOptions();
  options.metrics_port = 0;
  testing::internal::CaptureStderr();
  StartHost(options);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr(absl::StrCat("r1serve echo listening grpc=127.0.0.1:",
                                          host_->grpc_port(), " metrics=", host_->metrics_port())));
  EXPECT_GT(host_->metrics_port(), 0);
  EXPECT_NE(host_->metrics_port(), host_->grpc_port());
}

TEST_F(ServiceHostTest, MetricsPortMinusOneDisablesMetrics) {
  ServerOptions options = TestOptions();
  testing::internal::CaptureStderr();
  StartHost(options);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(host_->metrics_port(), -1);
  EXPECT_THAT(log, HasSubstr("metrics=off"));
}

TEST_F(ServiceHostTest, StartFailsClearlyOnAPortInUse) {
  StartHost(TestOptions());
  ServerOptions options = TestOptions();
  options.port = host_->grpc_port();
  ServiceHost second("second", options);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("127.0.0.1:", host_->grpc_port())));
}

TEST_F(ServiceHostTest, StartRejectsBadOptions) {
  ServerOptions options = TestOptions();
  options.tls_cert_pem = kTestCertPem;  // no key
  ServiceHost host("bad", options);
  EXPECT_EQ(host.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceHostTest, HealthGoesNotServingThenServingThenNotServingOnDrain) {
  ServerOptions options = TestOptions();
  options.drain_timeout = absl::Seconds(30);
  StartHost(options);
  std::shared_ptr<grpc::Channel> channel = Channel();
  EXPECT_EQ(HealthCheck(channel), HealthCheckResponse::NOT_SERVING);
  host_->SetServing(true);
  EXPECT_EQ(HealthCheck(channel), HealthCheckResponse::SERVING);

  // A Watch stream (what gRPC client-side health checking uses) sees the drain begin.
  grpc::ClientContext watch_context;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      Health::NewStub(channel)->Watch(&watch_context, HealthCheckRequest());
  HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);

  const absl::Time drain_start = absl::Now();
  std::thread drain([this] { host_->Shutdown(); });
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::NOT_SERVING);
  // With no service call in flight the drain ends at once: the open watch does not hold it
  // for the 30 s drain timeout.
  drain.join();
  EXPECT_LT(absl::Now() - drain_start, absl::Seconds(5));
  EXPECT_FALSE(watch->Read(&update));
  EXPECT_FALSE(watch->Finish().ok());

  host_->SetServing(true);  // too late: a drained host stays down
  EXPECT_NE(HealthCheck(Channel()), HealthCheckResponse::SERVING);
}

TEST_F(ServiceHostTest, DuringTheDrainNewCallsAreTurnedAway) {
  StartHost(TestOptions());
  host_->SetServing(true);
  std::shared_ptr<grpc::Channel> channel = Channel();
  grpc::Status held;
  std::thread held_call([&] { held = CallbackEchoCall(channel, /*hold=*/true); });
  ASSERT_TRUE(gate_.WaitForArrivals(1));

  std::thread drain([this] { host_->Shutdown(); });
  // Until the held call finishes the port stays open: probes read NOT_SERVING and service
  // calls get a retryable UNAVAILABLE.
  const absl::Time give_up = absl::Now() + kWait;
  while (HealthCheck(channel) == HealthCheckResponse::SERVING && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(HealthCheck(channel), HealthCheckResponse::NOT_SERVING);
  grpc::Status turned_away = SyncEchoCall(channel);
  EXPECT_EQ(turned_away.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(turned_away.error_message(), HasSubstr("shutting down"));

  gate_.Open();
  held_call.join();
  drain.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
}

TEST_F(ServiceHostTest, DrainTimeoutCancelsCallsThatRunTooLong) {
  ServerOptions options = TestOptions();
  options.drain_timeout = absl::Milliseconds(200);
  StartHost(options);
  std::shared_ptr<grpc::Channel> channel = Channel();
  grpc::Status held;
  std::thread held_call([&] { held = CallbackEchoCall(channel, /*hold=*/true); });
  ASSERT_TRUE(gate_.WaitForArrivals(1));
  std::thread drain([this] { host_->Shutdown(); });
  held_call.join();         // the client sees the cancellation without the gate ever opening
  EXPECT_FALSE(held.ok());  // gRPC reports a server-side cancellation as UNAVAILABLE
  gate_.Open();             // the callback handler still owes gRPC its Finish()
  drain.join();
}

TEST_F(ServiceHostTest, ReflectionListsTheServices) {
  StartHost(TestOptions());
  // libgrpc++_reflection registers reflection.proto in the generated pool, so the request and
  // response can be built by name without generated stubs of our own.
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::Descriptor* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const google::protobuf::Descriptor* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  ASSERT_NE(request_type, nullptr);
  ASSERT_NE(response_type, nullptr);
  google::protobuf::MessageFactory* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<google::protobuf::Message> request(factory->GetPrototype(request_type)->New());
  request->GetReflection()->SetString(request.get(), request_type->FindFieldByName("list_services"),
                                      "");
  std::string request_bytes = request->SerializeAsString();
  grpc::Slice request_slice(request_bytes);
  grpc::ByteBuffer request_buffer(&request_slice, 1);

  grpc::CompletionQueue queue;
  grpc::GenericStub stub(Channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  void* tag;
  bool ok;
  auto step = [&](intptr_t expected) {
    ASSERT_TRUE(queue.Next(&tag, &ok));
    ASSERT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    ASSERT_TRUE(ok);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  call->Write(request_buffer, reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer response_buffer;
  call->Read(&response_buffer, reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response_buffer.Dump(&slices).ok());
  std::string response_bytes;
  for (const grpc::Slice& slice : slices) {
    response_bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  std::unique_ptr<google::protobuf::Message> response(factory->GetPrototype(response_type)->New());
  ASSERT_TRUE(response->ParseFromString(response_bytes));
  const google::protobuf::Message& list = response->GetReflection()->GetMessage(
      *response, response_type->FindFieldByName("list_services_response"));
  const google::protobuf::FieldDescriptor* services_field =
      list.GetDescriptor()->FindFieldByName("service");
  std::vector<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, services_field); ++i) {
    const google::protobuf::Message& service =
        list.GetReflection()->GetRepeatedMessage(list, services_field, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  EXPECT_THAT(names,
              testing::IsSupersetOf({"r1serve.rpc_test.SyncEcho", "r1serve.rpc_test.CallbackEcho",
                                     "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST_F(ServiceHostTest, MetricsEndpointServesCallCountersAndServiceMetrics) {
  ServerOptions options = TestOptions();
  options.metrics_port = 0;
  StartHost(options);
  prometheus::BuildCounter()
      .Name("r1serve_test_things_total")
      .Help("things the test service did")
      .Register(host_->metrics_registry())
      .Add({})
      .Increment(3);
  std::shared_ptr<grpc::Channel> channel = Channel();
  ASSERT_TRUE(SyncEchoCall(channel).ok());
  ASSERT_TRUE(SyncEchoCall(channel).ok());
  ASSERT_TRUE(CallbackEchoCall(channel).ok());

  const std::string metrics = HttpGet(host_->metrics_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("r1serve_rpc_requests_total{code=\"OK\",method=\"Echo\","
                                 "service=\"r1serve.rpc_test.SyncEcho\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("r1serve_rpc_requests_total{code=\"OK\",method=\"Echo\","
                                 "service=\"r1serve.rpc_test.CallbackEcho\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("r1serve_rpc_latency_seconds_count{method=\"Echo\","
                                 "service=\"r1serve.rpc_test.SyncEcho\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("r1serve_rpc_in_flight{method=\"Echo\","
                                 "service=\"r1serve.rpc_test.SyncEcho\"} 0"));
  EXPECT_THAT(metrics, Not(HasSubstr("made.Up")));
  EXPECT_THAT(metrics, HasSubstr("r1serve_test_things_total 3"));
}

TEST_F(ServiceHostTest, TokenIsRequiredForServiceCallsButNotForHealth) {
  ServerOptions options = TestOptions();
  options.auth_token = "s3cret-token";
  options.metrics_port = 0;
  StartHost(options);

  grpc::Status missing = SyncEchoCall(Channel());
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("missing bearer token"));
  EXPECT_EQ(CallbackEchoCall(Channel()).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  ChannelOptions wrong;
  wrong.auth_token = "guess";
  grpc::Status rejected = CallbackEchoCall(Channel(wrong));
  EXPECT_EQ(rejected.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(rejected.error_message(), HasSubstr("invalid bearer token"));

  ChannelOptions right;
  right.auth_token = "s3cret-token";
  EXPECT_TRUE(SyncEchoCall(Channel(right)).ok());
  EXPECT_TRUE(CallbackEchoCall(Channel(right)).ok());

  // Kubernetes probes carry no token.
  EXPECT_EQ(HealthCheck(Channel()), HealthCheckResponse::NOT_SERVING);

  const std::string metrics = HttpGet(host_->metrics_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("r1serve_rpc_requests_total{code=\"UNAUTHENTICATED\","
                                 "method=\"Echo\",service=\"r1serve.rpc_test.SyncEcho\"} 1"));
}

TEST_F(ServiceHostTest, ConcurrencyLimitRejectsWithResourceExhaustedAndRecovers) {
  ServerOptions options = TestOptions();
  options.max_concurrent_calls = 2;
  StartHost(options);
  std::shared_ptr<grpc::Channel> channel = Channel();

  // One held call of each kind fills both slots.
  grpc::Status held_sync;
  grpc::Status held_callback;
  std::thread sync_call([&] { held_sync = SyncEchoCall(channel, /*hold=*/true); });
  std::thread callback_call([&] { held_callback = CallbackEchoCall(channel, /*hold=*/true); });
  ASSERT_TRUE(gate_.WaitForArrivals(2));

  grpc::Status busy = SyncEchoCall(channel);
  EXPECT_EQ(busy.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(busy.error_message(), HasSubstr("server busy: 2 calls in flight (limit 2)"));
  EXPECT_EQ(CallbackEchoCall(channel).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(HealthCheck(channel), HealthCheckResponse::NOT_SERVING);  // probes are not limited

  gate_.Open();
  sync_call.join();
  callback_call.join();
  EXPECT_TRUE(held_sync.ok()) << held_sync.error_message();
  EXPECT_TRUE(held_callback.ok()) << held_callback.error_message();
  // The slots came back when the held calls sent their status.
  EXPECT_TRUE(SyncEchoCall(channel).ok());
  EXPECT_TRUE(CallbackEchoCall(channel).ok());
}

TEST_F(ServiceHostTest, SigtermDrainLetsInFlightCallsFinish) {
  StartHost(TestOptions());
  host_->SetServing(true);
  std::shared_ptr<grpc::Channel> channel = Channel();

  std::thread serve([this] { host_->ServeUntilSignal(); });
  // Raising SIGTERM before the handler is in would kill the test binary.
  const absl::Time give_up = absl::Now() + kWait;
  struct sigaction current = {};
  while (::sigaction(SIGTERM, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_NE(current.sa_handler, SIG_DFL);

  grpc::Status held_sync;
  grpc::Status held_callback;
  std::thread sync_call([&] { held_sync = SyncEchoCall(channel, /*hold=*/true); });
  std::thread callback_call([&] { held_callback = CallbackEchoCall(channel, /*hold=*/true); });
  ASSERT_TRUE(gate_.WaitForArrivals(2));

  grpc::ClientContext watch_context;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      Health::NewStub(channel)->Watch(&watch_context, HealthCheckRequest());
  HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);

  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::NOT_SERVING);
  watch_context.TryCancel();
  watch->Finish();

  // The calls admitted before the signal complete normally once their work is done.
  gate_.Open();
  sync_call.join();
  callback_call.join();
  EXPECT_TRUE(held_sync.ok()) << held_sync.error_message();
  EXPECT_TRUE(held_callback.ok()) << held_callback.error_message();
  serve.join();

  // The server is gone, and SIGTERM has its old meaning again.
  EXPECT_EQ(SyncEchoCall(Channel()).error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(::sigaction(SIGTERM, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST_F(ServiceHostTest, ProgrammaticShutdownEndsServeUntilSignal) {
  StartHost(TestOptions());
  std::thread serve([this] { host_->ServeUntilSignal(); });
  absl::SleepFor(absl::Milliseconds(50));  // either order must work; this tries the usual one
  host_->Shutdown();
  serve.join();
  host_->ServeUntilSignal();  // after the drain it returns at once
}

TEST_F(ServiceHostTest, ServesTlsToClientsThatTrustTheCertificate) {
  ServerOptions options = TestOptions();
  options.tls_cert_pem = kTestCertPem;
  options.tls_key_pem = kTestKeyPem;
  StartHost(options);

  ChannelOptions tls;
  tls.use_tls = true;
  tls.tls_root_certs_pem = kTestCertPem;
  tls.tls_server_name = "localhost";
  EXPECT_TRUE(SyncEchoCall(Channel(tls)).ok());

  EXPECT_EQ(SyncEchoCall(Channel()).error_code(), grpc::StatusCode::UNAVAILABLE);  // plaintext
}

}  // namespace
}  // namespace r1serve::rpc
