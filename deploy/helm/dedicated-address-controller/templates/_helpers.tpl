{{- define "dac.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dac.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "dac.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "dac.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "dac.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dac.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dac.labels" -}}
{{ include "dac.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dac.serviceAccountName" -}}
{{- default (include "dac.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* The credentials Secret: an existing one, or the one this chart creates. */}}
{{- define "dac.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "dac.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{/* True when the chart creates the credentials Secret. */}}
{{- define "dac.createSecret" -}}
{{- if and (not .Values.credentials.existingSecret) (or .Values.credentials.secretId .Values.credentials.secretKey) }}
{{- $_ := required "credentials.secretId is required with credentials.secretKey" .Values.credentials.secretId }}
{{- $_ := required "credentials.secretKey is required with credentials.secretId" .Values.credentials.secretKey }}
{{- true }}
{{- end }}
{{- end }}
