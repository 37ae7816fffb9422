"""Reading ``template.yaml`` and resolving its intrinsic functions to local values.

The local stack never restates the template: every name, key schema, route and setting is
read from it. CloudFormation's short tags (``!Ref``, ``!Sub`` ...) become their long form
(``{"Ref": ...}``, ``{"Fn::Sub": ...}``) on load; :class:`Resolver` then evaluates them against
the values of resources the local stack created (or placeholders for ones it skips).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()  # AWS::NoValue: the property is dropped
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template cannot be read or uses something the local stack cannot resolve."""


class Unresolved(Exception):
    """A reference to a resource the local stack has not created yet (creation is retried)."""

    def __init__(self, logical_id: str) -> None:
        super().__init__(logical_id)
        self.logical_id = logical_id


def _tag_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":  # !GetAtt Resource.Attribute
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return data


@dataclass
class Resolver:
    """Evaluates intrinsic functions. ``refs``/``attrs`` are filled as resources are created."""

    template: dict
    region: str
    account_id: str
    stack_name: str
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)

    def parameter(self, name: str) -> Any:
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        spec = (self.template.get("Parameters") or {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown parameter {name}")
        if "Default" not in spec:
            raise TemplateError(f"parameter {name} has no Default; give it locally with --parameter {name}=VALUE")
        default = spec["Default"]
        # CloudFormation passes every parameter to the template as a string (Number too).
        return str(default) if isinstance(default, int | float) and not isinstance(default, bool) else default

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in (self.template.get("Parameters") or {}) or name in self.parameter_overrides:
            return self.parameter(name)
        if name in self.refs:
            return self.refs[name]
        if name in self.template["Resources"]:
            raise Unresolved(name)
        raise TemplateError(f"!Ref to unknown name {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attrs:
            return self.attrs[(logical_id, attribute)]
        if logical_id in self.template["Resources"]:
            raise Unresolved(logical_id)
        raise TemplateError(f"!GetAtt to unknown resource {logical_id}")

    def condition(self, name: str) -> bool:
        spec = (self.template.get("Conditions") or {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(spec))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")


def _fn_if(r: Resolver, arg: list) -> Any:
    name, when_true, when_false = arg
    return r.resolve(when_true if r.condition(name) else when_false)


def _fn_select(r: Resolver, arg: list) -> Any:
    return r.resolve(arg[1])[int(r.resolve(arg[0]))]


def _fn_find_in_map(r: Resolver, arg: list) -> Any:
    name, top, second = (r.resolve(a) for a in arg[:3])
    return r.template["Mappings"][name][top][second]


def _unsupported(name: str) -> Any:
    raise TemplateError(f"{name} is not supported by the local stack")


_FUNCTIONS = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": lambda r, a: r.get_att(*(a if isinstance(a, list) else a.split(".", 1))),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::If": _fn_if,
    "Fn::Equals": lambda r, a: r.resolve(a[0]) == r.resolve(a[1]),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(x) for x in a),
    "Fn::Or": lambda r, a: any(r.resolve(x) for x in a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::Join": lambda r, a: str(r.resolve(a[0])).join(str(x) for x in r.resolve(a[1])),
    "Fn::Select": _fn_select,
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(r.resolve(a[0])),
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::GetAZs": lambda r, a: [f"{r.region}a", f"{r.region}b"],
    "Fn::Base64": lambda r, a: __import__("base64").b64encode(str(r.resolve(a)).encode()).decode(),
    "Fn::ImportValue": lambda r, a: _unsupported("Fn::ImportValue"),
}


def resource_condition_holds(resolver: Resolver, resource: dict) -> bool:
    """A resource with ``Condition: X`` exists only when X is true (as CloudFormation does)."""
    name = resource.get("Condition")
    return True if name is None else resolver.condition(name)
