{{- define "stackery.labels" -}}
app.kubernetes.io/name: stackery-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
{{- define "stackery.selector" -}}
app.kubernetes.io/name: stackery-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "stackery.secretWriter" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "patch", "delete"]
{{- end }}
{{- define "stackery.rules" -}}
- apiGroups: ["stackery.io"]
  resources: ["stackeryobjectstores", "stackeryconfigstores", "stackerytables", "stackeryfunctions", "stackerycdns", "stackeryrestapis", "stackeryvirtualnetworks", "stackerybastions", "stackerydatabases", "stackerydockerclusters", "stackerydockerservices", "stackeryloadbalancers", "stackeryqueues", "stackerytopics", "stackerystreams", "stackerytimers"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["stackery.io"]
  resources: ["stackeryobjectstores/status", "stackeryconfigstores/status", "stackerytables/status", "stackeryfunctions/status", "stackerycdns/status", "stackeryrestapis/status", "stackeryvirtualnetworks/status", "stackerybastions/status", "stackerydatabases/status", "stackerydockerclusters/status", "stackerydockerservices/status", "stackeryloadbalancers/status", "stackeryqueues/status", "stackerytopics/status", "stackerystreams/status", "stackerytimers/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}
