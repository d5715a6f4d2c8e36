# ethon_client.rb - asks a chat endpoint through Ruby's ethon (Debian ruby-ethon), which calls
# libcurl through FFI (functions looked up on its own library handle); it knows nothing of llmshim.
#
#   ruby ethon_client.rb MODE URL PROMPT...
#
# MODE:
#   easy   Ethon::Easy#http_request(url, :post, body: ...) + perform, a new easy per prompt
#   reuse  one Ethon::Easy for every prompt: reset (curl_easy_reset), http_request, perform
#   multi  one Ethon::Easy per prompt added to an Ethon::Multi, then Multi#perform
#          (curl_multi_perform, curl_multi_timeout, curl_multi_fdset + select, curl_multi_info_read)
#
# Bodies go to stdout, each followed by a newline; one line per transfer on stderr:
#   <label> result=ok status=200 bytes=N cache=HIT|none
# Exit status: 0 when every transfer ended with :ok and status 200.
require "ethon"
require "json"

Ethon.logger = Logger.new(nil) if defined?(Logger)

mode, url, *prompts = ARGV
if prompts.empty?
  warn "usage: ethon_client.rb easy|reuse|multi URL PROMPT..."
  exit 2
end
$stdout.binmode

def body_for(prompt)
  JSON.generate({ "model" => "gpt-4o-mini", "messages" => [{ "role" => "user", "content" => prompt }] })
end

def request(easy, url, prompt)
  easy.http_request(url, :post, body: body_for(prompt),
                                headers: { "Content-Type" => "application/json" }, timeout: 30)
  easy
end

def cache_of(easy)
  line = easy.response_headers.to_s.lines.find { |l| l =~ /\Ax-llmshim-cache:/i }
  line ? line.split(":", 2)[1].strip : "none"
end

$ok = true
def report(label, easy)
  body = easy.response_body.to_s
  $stdout.write(body + "\n")
  $stdout.flush
  warn format("%s result=%s status=%d bytes=%d cache=%s", label, easy.return_code, easy.response_code,
              body.bytesize, cache_of(easy))
  $ok = false unless easy.return_code == :ok && easy.response_code == 200
end

case mode
when "easy"
  prompts.each_with_index do |p, i|
    e = request(Ethon::Easy.new, url, p)
    e.perform
    report("easy##{i}", e)
  end
when "reuse"
  e = Ethon::Easy.new
  prompts.each_with_index do |p, i|
    e.reset if i > 0 # curl_easy_reset, as Typhoeus does when it pools handles
    request(e, url, p)
    e.perform
    report("reuse##{i}", e)
  end
when "multi"
  multi = Ethon::Multi.new
  easies = prompts.map { |p| request(Ethon::Easy.new, url, p) }
  easies.each { |e| multi.add(e) }
  multi.perform
  easies.each_with_index { |e, i| report("multi##{i}", e) }
else
  warn "unknown mode #{mode}"
  exit 2
end
exit($ok ? 0 : 1)
