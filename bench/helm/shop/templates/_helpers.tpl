{{/*
Names and labels. Every object is named after the release (the app): <release> or
<release>-<component>. The instance is <tenant>-<release>; managed-by stays "dovetail",
not .Release.Service, so that the objects are the ones dovetail renders.
*/}}
{{- define "shop.instance" -}}
{{ .Values.tenant }}-{{ .Release.Name }}
{{- end }}

{{/* Selector labels; the argument is (dict "root" $ "component" NAME). */}}
{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Release.Name }}
app.kubernetes.io/instance: {{ include "shop.instance" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of an object or pod template; same argument. */}}
{{- define "shop.labels" -}}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/part-of: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: dovetail
{{- end }}

{{/*
metadata: of an object; the argument is (dict "root" $ "name" NAME "component" C),
with "early" true for what must exist before the app's pods (Argo CD sync wave -2) and
"annotations" for more.
*/}}
{{- define "shop.metadata" -}}
{{- $annotations := .annotations | default dict -}}
{{- if .early }}{{ $_ := set $annotations "argocd.argoproj.io/sync-wave" "-2" }}{{ end -}}
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "shop.labels" . | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* requests and limits alike, from {cpu, memory, ephemeralStorage}; any may be missing. */}}
{{- define "shop.resources" -}}
{{- $r := pick . "cpu" "memory" -}}
{{- with .ephemeralStorage }}{{ $_ := set $r "ephemeral-storage" . }}{{ end -}}
requests:
  {{- toYaml $r | nindent 2 }}
limits:
  {{- toYaml $r | nindent 2 }}
{{- end }}

{{- define "shop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
fsGroup: {{ .Values.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "shop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The pod spec fields every pod of the app shares. */}}
{{- define "shop.podCommon" -}}
serviceAccountName: {{ .Release.Name }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "shop.podSecurityContext" . | nindent 2 }}
{{- end }}

{{- define "shop.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* env and envFrom of the app's containers: the services' URLs and the env ConfigMap. */}}
{{- define "shop.appEnv" -}}
{{- $name := .Release.Name -}}
env:
  {{- if .Values.database.enabled }}
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ $name }}-db-app
        key: uri
  {{- end }}
  {{- if .Values.redis.enabled }}
  - name: REDIS_URL
    value: redis://{{ $name }}-redis:{{ .Values.redis.port }}/0
  {{- end }}
envFrom:
  - configMapRef:
      name: {{ $name }}-env
{{- end }}

{{/* The ConfigMap key of a file: its path with / as _. */}}
{{- define "shop.fileKey" -}}
{{ replace "/" "_" .path }}
{{- end }}

{{/*
Whether process .process mounts the file or static volume .spec (empty: no). The init
step (process "") mounts all of them.
*/}}
{{- define "shop.mounts" -}}
{{- if or (not .process) (not .spec.processes) (has .process .spec.processes) }}true{{ end -}}
{{- end }}

{{/* volumeMounts of a container of (dict "root" $ "process" NAME); "" for init. */}}
{{- define "shop.volumeMounts" -}}
{{- $root := .root -}}
{{- $process := .process -}}
volumeMounts:
  {{- range $root.Values.files }}
  {{- if include "shop.mounts" (dict "process" $process "spec" .) }}
  - name: dovetail-files
    mountPath: {{ .mount }}
    subPath: {{ include "shop.fileKey" . }}
    readOnly: true
  {{- end }}
  {{- end }}
  {{- with $root.Values.static }}
  {{- if include "shop.mounts" (dict "process" $process "spec" .) }}
  - name: dovetail-static
    mountPath: {{ .mount }}
  {{- end }}
  {{- end }}
  - name: dovetail-tmp
    mountPath: /tmp
{{- end }}

{{/*
Resources with the chart's default ephemeral storage; the argument is (dict "root" $
"resources" R).
*/}}
{{- define "shop.withEphemeralStorage" -}}
{{- toYaml (merge (dict) .resources (dict "ephemeralStorage" .root.Values.ephemeralStorage)) -}}
{{- end }}

{{/*
The volumes behind those mounts, for the pods of (dict "root" $ "process" NAME "init"
BOOL "tmp" SIZE); /tmp's SIZE is the main container's ephemeral storage.
*/}}
{{- define "shop.volumes" -}}
{{- $root := .root -}}
{{- $process := .process -}}
{{- $files := false -}}
{{- range $root.Values.files }}
{{- if or $.init (include "shop.mounts" (dict "process" $process "spec" .)) }}{{ $files = true }}{{ end }}
{{- end -}}
volumes:
  {{- if $files }}
  - name: dovetail-files
    configMap:
      name: {{ $root.Release.Name }}-files
  {{- end }}
  {{- if and $root.Values.static (or .init (include "shop.mounts" (dict "process" $process "spec" $root.Values.static))) }}
  - name: dovetail-static
    persistentVolumeClaim:
      claimName: {{ $root.Release.Name }}-static
  {{- end }}
  - name: dovetail-tmp
    emptyDir:
      sizeLimit: {{ .tmp }}
{{- end }}

{{/*
Readiness, liveness and startup probes of a process: HTTP on its port for health.path,
exec for health.command, TCP on its port otherwise.
*/}}
{{- define "shop.probes" -}}
{{- $check := dict -}}
{{- if and .health .health.path }}
{{- $check = dict "httpGet" (dict "path" .health.path "port" "http") }}
{{- else if and .health .health.command }}
{{- $check = dict "exec" (dict "command" .health.command) }}
{{- else if .port }}
{{- $check = dict "tcpSocket" (dict "port" "http") }}
{{- end }}
{{- if $check }}
{{- range $probe, $timing := dict "readinessProbe" (list 5 3) "livenessProbe" (list 10 6) "startupProbe" (list 5 60) }}
{{ $probe }}:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: {{ index $timing 0 }}
  failureThreshold: {{ index $timing 1 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A quantity such as 256Mi or 1G in bytes (an int64).
*/}}
{{- define "shop.bytes" -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- $q := toString . -}}
{{- $n := $q | int64 -}}
{{- range $suffix, $factor := $units }}
{{- if hasSuffix $suffix $q }}{{ $n = mul (trimSuffix $suffix $q | int64) $factor }}{{ end }}
{{- end }}
{{- $n -}}
{{- end }}

{{/*
The pod checksum: what a process's pods roll on when it changes. It is dovetail's
digest, byte for byte: SHA-256 over each part preceded by its length as a
little-endian u64; the parts are each env key and value (sorted by key), then the key
and content of each file the process mounts.
*/}}
{{- define "shop.checksum" -}}
{{- $root := .root -}}
{{- $process := .process -}}
{{- $parts := list -}}
{{- range $k, $v := $root.Values.env }}
{{- $parts = concat $parts (list $k (toString $v)) }}
{{- end }}
{{- range $root.Values.files }}
{{- if include "shop.mounts" (dict "process" $process "spec" .) }}
{{- $parts = concat $parts (list (include "shop.fileKey" .) ($root.Files.Get (printf "files/%s" .path))) }}
{{- end }}
{{- end }}
{{- $bytes := "" -}}
{{- range $parts }}
{{- $bytes = printf "%s%s%s" $bytes (include "shop.u64le" (len .)) . }}
{{- end }}
{{- sha256sum $bytes -}}
{{- end }}

{{/* A number as 8 raw little-endian bytes. */}}
{{- define "shop.u64le" -}}
{{- $n := int64 . -}}
{{- range until 8 }}
{{- include "shop.byte" (mod $n 256) }}
{{- $n = div $n 256 }}
{{- end }}
{{- end }}

{{/* One raw byte (0-255): templates print runes, so decode it from base64. */}}
{{- define "shop.byte" -}}
{{- $b64 := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" -}}
{{- $hi := div . 4 | int -}}
{{- $lo := mul (mod . 4) 16 | int -}}
{{- printf "%s%s==" (substr $hi (add1 $hi | int) $b64) (substr $lo (add1 $lo | int) $b64) | b64dec -}}
{{- end }}

{{/* The ports CloudNativePG's instances serve PostgreSQL and their instance manager on. */}}
{{- define "shop.postgresPort" -}}5432{{- end }}
{{- define "shop.cnpgStatusPort" -}}8000{{- end }}

{{/* A list of TCP ports of a NetworkPolicy rule, from a list of numbers. */}}
{{- define "shop.tcpPorts" -}}
{{- $ports := list -}}
{{- range . }}{{ $ports = append $ports (dict "protocol" "TCP" "port" (int .)) }}{{ end -}}
{{- toYaml $ports -}}
{{- end }}

{{/* The egress rule to cluster DNS (network.dns), on UDP and TCP port 53. */}}
{{- define "shop.dnsEgress" -}}
{{- with .Values.network.dns -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .podLabels | nindent 10 }}
  ports:
    {{- range list "UDP" "TCP" }}
    - protocol: {{ . }}
      port: 53
    {{- end }}
{{- end }}
{{- end }}
