# cmake -DSIPMETRICSD=<binary> -DVERSION=<x.y.z> -DOUT=<file> -P sipmetricsd-man.cmake
#
# Writes the sipmetricsd(8) man page from `sipmetricsd --help`, so the page can never disagree
# with the binary: the help text is the OPTIONS section, verbatim, in a no-fill block, and its
# footer the EXIT STATUS section.
foreach(v SIPMETRICSD VERSION OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "sipmetricsd-man.cmake: -D${v}=... is required")
  endif()
endforeach()

execute_process(COMMAND "${SIPMETRICSD}" --help
                OUTPUT_VARIABLE help RESULT_VARIABLE rc ERROR_VARIABLE err TIMEOUT 30)
if(NOT rc EQUAL 0 OR help STREQUAL "")
  message(FATAL_ERROR "`${SIPMETRICSD} --help` failed (${rc}): ${err}")
endif()

# roff: a backslash is \e; a line starting with '.' or '\'' would be a request: prefix \&.
function(roff_escape var text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# The help starts with the description paragraphs, then "Usage: ..." and the options.
string(FIND "${help}" "Usage:" usage_at)
if(usage_at LESS 0)
  message(FATAL_ERROR "`sipmetricsd --help` has no Usage: line")
endif()
string(SUBSTRING "${help}" 0 ${usage_at} description)
string(SUBSTRING "${help}" ${usage_at} -1 options)
# The help's footer, after the options, is the EXIT STATUS section.
string(FIND "${options}" "Exit status:" exit_at)
if(exit_at LESS 0)
  message(FATAL_ERROR "`sipmetricsd --help` has no Exit status: footer")
endif()
string(SUBSTRING "${options}" ${exit_at} -1 exit_status)
string(SUBSTRING "${options}" 0 ${exit_at} options)
string(REGEX REPLACE "^Exit status: *" "" exit_status "${exit_status}")
string(STRIP "${exit_status}" exit_status)
roff_escape(exit_status "${exit_status}")
string(STRIP "${description}" description)
string(STRIP "${options}" options)
roff_escape(description "${description}")
roff_escape(options "${options}")
string(REGEX REPLACE "\n[ \t]*\n" "\n.PP\n" description "${description}")

file(WRITE "${OUT}" ".\\\" Generated from `sipmetricsd --help` by cmake/sipmetricsd-man.cmake; do not edit.
.TH SIPMETRICSD 8 \"\" \"sipmetrics ${VERSION}\" \"System Administration\"
.SH NAME
sipmetricsd \\- serve SIP workers' shared-memory metrics to Prometheus
.SH SYNOPSIS
.B sipmetricsd
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
${description}
.PP
Endpoints: \\fB/metrics\\fR (Prometheus text format 0.0.4, OpenMetrics on request, gzip when
accepted), \\fB/healthz\\fR (liveness and readiness), \\fB/\\fR (links).
.SH OPTIONS
.nf
${options}
.fi
.SH EXIT STATUS
${exit_status}
.SH SIGNALS
.TP
.B SIGHUP
re-read the config file: whitelists, caps, quantile windows and the log level. A file that
cannot be used (a TOML syntax error, an unknown key, a bad value) is refused with its file, line
and reason, and the running configuration is kept
.TP
.BR SIGTERM \", \" SIGINT
stop cleanly
.SH FILES
.TP
.I /dev/shm/sipmetrics
the default segment (POSIX shared-memory name \\fBsipmetrics\\fR)
.TP
.I /run/sipmetrics/segment
the segment used by the systemd unit (\\fBsipmetricsd.service\\fR)
.TP
.I /etc/default/sipmetricsd
options of the systemd unit (\\fBSIPMETRICSD_OPTS\\fR and the environment variables above)
.SH SEE ALSO
.BR systemd.exec (5),
.BR prometheus (1)
")
