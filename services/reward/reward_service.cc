#include "services/reward/reward_service.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/verify/verifier_version.h"
#include "services/reward/reward_proto.h"
#include "services/reward/score_stream_reactor.h"

namespace r1serve::services {
namespace {

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// One Score call: results land in their item's slot; the last item to finish ends the call.
struct ScoreBatch {
  grpc::ServerUnaryReactor* reactor;
  v1::ScoreResponse* response;
  std::atomic<int> remaining;
};

}  // namespace

absl::Time CallDeadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  // gRPC reports "no deadline" as a time point centuries away; absl spells that InfiniteFuture.
  if (deadline >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365 * 100)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

RewardService::RewardService(rpc::ServiceHost* host, verify::RewardConfig config,
                             RewardServiceLimits limits)
    : host_(host),
      scorer_(std::move(config)),
      limits_(limits),
      code_languages_(verify::SupportedCodeLanguages()),
      metrics_(host->metrics_registry()),
      reaper_([this] { ReapIdleStreams(); }),
      workers_(limits.worker_threads, limits.max_pending_items) {}

RewardService::~RewardService() {
  {
    absl::MutexLock lock(&streams_mu_);
    stopping_ = true;
  }
  reaper_.join();
}

void RewardService::TrackStream(ScoreStreamReactor* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
}

void RewardService::UntrackStream(ScoreStreamReactor* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

void RewardService::ReapIdleStreams() {
  const absl::Duration period =
      std::clamp(limits_.stream_idle_timeout / 4, absl::Milliseconds(50), absl::Seconds(1));
  for (;;) {
    std::vector<ScoreStreamReactor*> idle;
    {
      absl::MutexLock lock(&streams_mu_);
      if (streams_mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
      // A pinned stream cannot finish, so it outlives the cancel below.
      for (ScoreStreamReactor* stream : streams_) {
        if (stream->PinIfIdle(limits_.stream_idle_timeout)) idle.push_back(stream);
      }
    }
    // Without streams_mu_: a cancel can end a stream inline, and its OnDone untracks it.
    for (ScoreStreamReactor* stream : idle) stream->CancelPinned();
  }
}

v1::RewardResult RewardService::ScoreOne(const v1::RewardItem& item, absl::Time call_deadline) {
  absl::StatusOr<verify::RewardItem> converted = RewardItemFromProto(item);
  verify::RewardResult result = converted.ok() ? scorer_.Score(*converted, call_deadline)
                                               : scorer_.ErrorResult(item.id(), converted.status());
  metrics_.Observe(result);
  return RewardResultToProto(result);
}

v1::RewardResult RewardService::RefusedResult(const std::string& id, absl::Status why) {
  verify::RewardResult result = scorer_.ErrorResult(id, std::move(why));
  metrics_.Observe(result);
  return RewardResultToProto(result);
}

grpc::ServerUnaryReactor* RewardService::Score(grpc::CallbackServerContext* context,
                                               const v1::ScoreRequest* request,
                                               v1::ScoreResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  const int count = request->items_size();
  if (static_cast<uint32_t>(count) > limits_.max_items_per_request) {
    reactor->Finish(InvalidArgument(absl::StrCat(count, " items are over the limit of ",
                                                 limits_.max_items_per_request,
                                                 " per request; split the batch")));
    return reactor;
  }
  absl::flat_hash_set<std::string_view> ids;
  for (const v1::RewardItem& item : request->items()) {
    if (!ids.insert(item.id()).second) {
      reactor->Finish(InvalidArgument(
          absl::StrCat("item id '", item.id(), "' appears more than once; ids must be unique")));
      return reactor;
    }
  }
  if (count == 0) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  if (!workers_.TryReserve(count)) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("reward service busy: cannot queue ", count, " more items (at most ",
                     workers_.max_pending(), " pending); retry later")));
    return reactor;
  }
  for (int i = 0; i < count; ++i) response->add_results();
  auto batch = std::make_shared<ScoreBatch>(reactor, response, count);
  const absl::Time deadline = CallDeadline(context);
  for (int i = 0; i < count; ++i) {
    workers_.Run([this, batch, context, request, deadline, i] {
      // Each task writes only its own slot, which the response already holds.
      *batch->response->mutable_results(i) =
          context->IsCancelled() ? RefusedResult(request->items(i).id(),
                                                 absl::CancelledError("the call was cancelled"))
                                 : ScoreOne(request->items(i), deadline);
      if (batch->remaining.fetch_sub(1) == 1) batch->reactor->Finish(grpc::Status::OK);
    });
  }
  return reactor;
}

grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreResponse>* RewardService::ScoreStream(
    grpc::CallbackServerContext* context) {
  return new ScoreStreamReactor(this, context);
}

grpc::ServerUnaryReactor* RewardService::Info(grpc::CallbackServerContext* context,
                                              const v1::RewardInfoRequest* request,
                                              v1::RewardInfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status admitted = host_->Admit(context); !admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  response->set_verifier_version(std::string(verify::kVerifierVersion));
  response->set_config_hash(scorer_.config_hash());
  for (verify::TaskType type :
       {verify::TaskType::kMath, verify::TaskType::kFormat, verify::TaskType::kLanguage,
        verify::TaskType::kCode, verify::TaskType::kComposite}) {
    if (type == verify::TaskType::kCode && code_languages_.empty()) continue;
    response->add_task_types(TaskTypeToProto(type));
  }
  for (const std::string& language : code_languages_) response->add_code_languages(language);
  response->set_default_item_timeout_us(
      absl::ToInt64Microseconds(scorer_.config().default_item_timeout));
  response->set_max_items_per_request(limits_.max_items_per_request);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace r1serve::services
