"""A RewardService client in Python, built from the .proto files alone (Debian's python3-grpcio).

Usage: reward_client.py GENERATED_DIR ADDRESS MODE [ARG...]
  score  - scores a batch, checks each result, checks health is SERVING
  ids VOCAB IDS... - samples carrying ids only (IDS encode "#### 42"): the server decodes them
           with its tokenizer (exact = 1), names the vocabulary size VOCAB in Info, and refuses
           the id VOCAB with INVALID_ARGUMENT naming the vocabulary
  drain  - starts 8 slow calls (the server batches with a long max wait), prints READY, and
           requires every one of them to succeed although the server is sent SIGTERM meanwhile
"""
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from grpchealth import health_pb2, health_pb2_grpc  # noqa: E402
from pelican.v1 import reward_pb2, reward_pb2_grpc  # noqa: E402


def sample(i, answer, ref):
    s = reward_pb2.Sample(id=f"s{i}", prompt_ids=[1, 2], completion_ids=[3, 4],
                          prompt_text="question", completion_text=f"so #### {answer}")
    s.metadata["reference"] = str(ref)
    return s


def main():
    address, mode = sys.argv[2], sys.argv[3]
    channel = grpc.insecure_channel(address)
    stub = reward_pb2_grpc.RewardServiceStub(channel)
    if mode == "score":
        req = reward_pb2.ScoreRequest(samples=[sample(0, 42, 42), sample(1, 41, 42)])
        resp = stub.Score(req, timeout=20)
        got = [(r.id, r.code, r.HasField("reward") and r.reward) for r in resp.results]
        print("results", got)
        assert resp.scorer == "default", resp.scorer
        assert resp.results[0].id == "s0" and resp.results[0].code == 0
        exact = {c.name: c.value for c in resp.results[0].components}
        assert exact["exact"] == 1.0, exact
        assert {c.name: c.value for c in resp.results[1].components}["exact"] == 0.0
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                            timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING, health
        info = stub.Info(reward_pb2.InfoRequest(), timeout=5)
        assert "default" in info.scorers, info
        print("OK score + health + info")
    elif mode == "ids":
        vocab, ids = int(sys.argv[4]), [int(t) for t in sys.argv[5:]]
        info = stub.Info(reward_pb2.InfoRequest(), timeout=5)
        assert info.vocab_size == vocab and info.tokenizer_fingerprint, info
        good = reward_pb2.Sample(id="good", prompt_ids=[1, 2], completion_ids=ids)
        good.metadata["reference"] = "42"
        resp = stub.Score(reward_pb2.ScoreRequest(samples=[good]), timeout=20)
        r = resp.results[0]
        assert r.code == 0 and {c.name: c.value for c in r.components}["exact"] == 1.0, r
        bad = reward_pb2.Sample(id="bad", prompt_ids=[1, 2], completion_ids=ids + [vocab])
        bad.metadata["reference"] = "42"
        try:
            stub.Score(reward_pb2.ScoreRequest(samples=[bad]), timeout=20)
            raise AssertionError("an id outside the vocabulary was scored")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
            assert "outside the vocabulary" in e.details(), e.details()
            print("refused:", e.details())
        print("OK ids decoded by the server's tokenizer; out-of-vocabulary id refused")
    elif mode == "drain":
        futures = [stub.Score.future(reward_pb2.ScoreRequest(samples=[sample(i, i, i)]),
                                     timeout=30) for i in range(8)]
        print("READY", flush=True)
        failed = 0
        for f in futures:
            try:
                r = f.result()
                assert r.results[0].code == 0
            except Exception as e:  # noqa: BLE001
                print("call failed:", e)
                failed += 1
        print(f"in-flight calls failed: {failed}")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
