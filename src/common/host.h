#pragma once
#include <string>

namespace connreset {

// The node name every JSON line carries as `host`: NODE_NAME from the
// environment when set (a DaemonSet passes the Kubernetes node name through
// the downward API; a pod's own hostname is the pod's name), else the kernel's
// host name.
std::string node_name();

}  // namespace connreset
