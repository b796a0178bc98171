#!/usr/bin/env python3
"""Chat templates rendered by jinja2, the independent reference for tern's native renders.

The template strings are the models' published chat templates (tokenizer_config.json
"chat_template"); they are facts about each model. Rendering follows Hugging Face's
apply_chat_template: jinja2 with trim_blocks and lstrip_blocks, bos_token / eos_token
and add_generation_prompt as variables, raise_exception available.

Usage: chat_templates.py CONVERSATION.json  -> prints JSON {name: rendered text}
The conversation file: {"messages": [{"role", "content"}...], "bos": "...", "eos": "...",
"add_generation_prompt": true}. Gemma and LLaMA-2 have no system role; as llama.cpp
does, the system text joins the first user message before rendering (LLaMA-2's own
template does this itself).
"""

import json
import sys

import jinja2

TEMPLATES = {
    # Meta-Llama-3-8B-Instruct
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        "+ message['content'] | trim + '<|eot_id|>' %}"
        "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
        "{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    # ChatML (Qwen2, many fine-tunes)
    "chatml": (
        "{% for message in messages %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    # Falcon3-*-Instruct
    "falcon3": (
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}"
        "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}"
        "{% elif message['role'] == 'assistant' %}"
        "{% if not loop.last %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}"
        "{% else %}{{ '<|assistant|>\n' + message['content'] + eos_token }}{% endif %}"
        "{% endif %}"
        "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
        "{% endfor %}"
    ),
    # BitNet b1.58 2B4T
    "bitnet": (
        "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
        "{% if message['role'] == 'system' %}{{ 'System: ' + message['content'] | trim + '<|eot_id|>' }}"
        "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] | trim + '<|eot_id|>' }}"
        "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] | trim + '<|eot_id|>' }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"
    ),
    # Llama-2-*-chat
    "llama2": (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}"
        "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
        "{% endfor %}"
    ),
    # zephyr-7b-beta
    "zephyr": (
        "{% for message in messages %}\n"
        "{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
        "{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
        "{% endfor %}"
    ),
    # gemma-*-it
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
    ),
    # Phi-3.5-mini-instruct
    "phi3": (
        "{% for message in messages %}"
        "{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
        "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
        "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
    ),
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def render(name, messages, bos, eos, add_generation_prompt=True):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    if name == "gemma" and messages and messages[0]["role"] == "system" and len(messages) > 1:
        first = dict(messages[1])
        first["content"] = messages[0]["content"] + "\n\n" + first["content"]
        messages = [first] + messages[2:]
    return env.from_string(TEMPLATES[name]).render(
        messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=add_generation_prompt)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        conv = json.load(f)
    out = {name: render(name, conv["messages"], conv["bos"], conv["eos"], conv.get("add_generation_prompt", True))
           for name in TEMPLATES}
    out["_templates"] = TEMPLATES
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
