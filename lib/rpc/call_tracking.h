// The server interceptor ServiceHost installs on every call: it feeds RpcMetrics (count,
// latency, in-flight) and tells AdmissionControl when each call starts and ends, which is how
// a slot taken by Admit() is given back without the handler doing anything.
//
// A call's slot is freed when its status is sent (PRE_SEND_STATUS), so a client that has seen
// the status of call N can count on the slot for call N+1; the call counts as ended for a drain
// only when gRPC destroys its interceptors, after the status is out. A call that ends without
// sending a status (the client went away first) is counted as CANCELLED.
//
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(std::make_unique<CallTrackingInterceptorFactory>(&metrics, &admission));
//   builder.experimental().SetInterceptorCreators(std::move(creators));
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include "lib/rpc/admission_control.h"
#include "lib/rpc/rpc_metrics.h"

namespace r1serve::rpc {

class CallTrackingInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // Both must outlive the server the factory is installed on.
  CallTrackingInterceptorFactory(RpcMetrics* metrics, AdmissionControl* admission)
      : metrics_(metrics), admission_(admission) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics* metrics_;
  AdmissionControl* admission_;
};

}  // namespace r1serve::rpc
