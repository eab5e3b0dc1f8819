"""A deterministic actor for learner tests, written from the .proto files alone.

Each round it waits until the learner has finished the previous step (GetStatus), leases exactly
one step's prompts, and pushes trajectories that depend only on the prompt: completion ids,
logprobs and reward are functions of the prompt ids and the sample index. So two learners fed by
this actor see the same batches, and their per-step losses can be compared.

Usage: fake_actor.py GEN_DIR LEARNER CONFIG_FINGERPRINT TOKENIZER_FINGERPRINT PROMPTS_PER_STEP N
       [DELAY_S]   (pause before each push, so a test can act between two steps)
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from pelican.v1 import learner_pb2, learner_pb2_grpc, rollout_pb2  # noqa: E402

target, config_fp, tok_fp = sys.argv[2], sys.argv[3], sys.argv[4]
per_step, n = int(sys.argv[5]), int(sys.argv[6])
delay = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0


def completion(prompt_ids, sample):
    h = hashlib.sha256(bytes(str((list(prompt_ids), sample)), "utf8")).digest()
    length = 1 + h[0] % 4
    ids = [48 + h[1 + i] % 10 for i in range(length)]
    reward = (h[10] % 7) / 6.0
    return ids, [-0.5 - (h[20 + i] % 10) / 10.0 for i in range(length)], reward


def call(fn, request):
    for attempt in range(600):
        try:
            return fn(request, timeout=10)
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            time.sleep(0.1)
    raise RuntimeError("learner unreachable")


stub = learner_pb2_grpc.LearnerServiceStub(grpc.insecure_channel(target))
name = f"fake/{os.getpid()}"
call(stub.RegisterActor, learner_pb2.RegisterActorRequest(
    actor_name=name, config_fingerprint=config_fp, tokenizer_fingerprint=tok_fp))
seq = 0
last_step = None
while True:
    status = call(stub.GetStatus, learner_pb2.GetStatusRequest())
    if status.done:
        break
    if last_step is not None and status.step == last_step:
        time.sleep(0.02)
        continue
    leased = call(stub.LeasePrompts, learner_pb2.LeasePromptsRequest(actor_id=name, n=per_step))
    if leased.done:
        break
    trajectories = []
    for p in leased.prompts:
        for s in range(n):
            ids, logprobs, reward = completion(p.prompt_ids, s)
            trajectories.append(rollout_pb2.Trajectory(
                trajectory_id=f"{p.lease_id}-{s}", lease_id=p.lease_id, actor_id=name,
                policy_version=leased.policy_version, prompt_ids=p.prompt_ids,
                completion_ids=ids, logprobs=logprobs,
                finish_reason=rollout_pb2.FINISH_REASON_LENGTH, reward=reward, sample_index=s))
    time.sleep(delay)
    seq += 1
    call(stub.PushRollouts, learner_pb2.PushRolloutsRequest(
        actor_id=name, batch_seq=seq, trajectories=trajectories))
    last_step = status.step
print(f"fake actor done after {seq} pushes")
