{{- define "tlm-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tlm-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tlm-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tlm-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tlm-operator.labels" -}}
{{ include "tlm-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tlm-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tlm-operator.serviceAccountName" -}}
{{- default (include "tlm-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "tlm-operator.clusterIssuerNamespace" -}}
{{- default .Release.Namespace .Values.clusterIssuerNamespace -}}
{{- end -}}

{{/* Rules for the namespaced resources the operator reconciles (ClusterRole or per-namespace Role). */}}
{{- define "tlm-operator.namespacedRules" -}}
- apiGroups: ["tlm.certops.dev"]
  resources: ["certificates", "issuers", "ctwatches"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["tlm.certops.dev"]
  resources: ["certificates"]
  verbs: ["patch"]
- apiGroups: ["tlm.certops.dev"]
  resources: ["certificates/status"]
  verbs: ["update"]
- apiGroups: ["tlm.certops.dev"]
  resources: ["issuers/status", "ctwatches/status"]
  verbs: ["patch"]
- apiGroups: ["tlm.certops.dev"]
  resources: ["certificates/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.certManagerIssuer.enabled }}
# cert-manager external-issuer mode: read requests, record the order in an annotation (patch),
# write Ready, certificate and ca (status patch).
- apiGroups: ["cert-manager.io"]
  resources: ["certificaterequests"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["cert-manager.io"]
  resources: ["certificaterequests/status"]
  verbs: ["patch"]
{{- end }}
{{- end -}}

{{- define "tlm-operator.clusterIssuerRules" -}}
- apiGroups: ["tlm.certops.dev"]
  resources: ["clusterissuers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["tlm.certops.dev"]
  resources: ["clusterissuers/status"]
  verbs: ["patch"]
{{- end -}}
