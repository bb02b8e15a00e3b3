-- Argo CD health check for every stackery.io kind. Install it in the argocd-cm ConfigMap, e.g.
--   resource.customizations.health.stackery.io_StackeryObjectStore: |
--     <this file>
-- (one key per kind: StackeryObjectStore, StackeryConfigStore, StackeryTable, StackeryFunction, StackeryCDN, StackeryRestApi, StackeryVirtualNetwork, StackeryBastion, StackeryDatabase, StackeryDockerCluster, StackeryDockerService, StackeryLoadBalancer, StackeryQueue, StackeryTopic, StackeryStream, StackeryTimer).
-- Reads the same conditions kstatus reads: Stalled=True -> Degraded, Ready=True for the current
-- generation -> Healthy, anything else -> Progressing with the Ready reason and message.
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "the operator has not seen generation " .. tostring(obj.metadata.generation) .. " yet"
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Stalled" and c.status == "True" then
    return {status = "Degraded", message = c.reason .. ": " .. (c.message or "")}
  end
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    if c.status == "True" then
      return {status = "Healthy", message = c.message or ""}
    end
    hs.message = c.reason .. ": " .. (c.message or "")
  end
end
return hs
