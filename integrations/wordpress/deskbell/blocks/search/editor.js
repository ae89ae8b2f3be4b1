/* Deskbell search block, editor side: settings in the sidebar, a server-rendered preview. */
( function ( wp ) {
	'use strict';
	var el = wp.element.createElement;
	var __ = wp.i18n.__;
	var InspectorControls = wp.blockEditor.InspectorControls;
	var PanelBody = wp.components.PanelBody;
	var TextControl = wp.components.TextControl;
	var RangeControl = wp.components.RangeControl;
	var ServerSideRender = wp.serverSideRender;

	wp.blocks.registerBlockType( 'deskbell/search', {
		edit: function ( props ) {
			var attrs = props.attributes;
			return el(
				'div',
				wp.blockEditor.useBlockProps(),
				el(
					InspectorControls,
					null,
					el(
						PanelBody,
						{ title: __( 'Search settings', 'deskbell' ) },
						el( TextControl, {
							label: __( 'Placeholder', 'deskbell' ),
							value: attrs.placeholder,
							onChange: function ( value ) { props.setAttributes( { placeholder: value } ); }
						} ),
						el( RangeControl, {
							label: __( 'Results shown', 'deskbell' ),
							min: 1,
							max: 20,
							value: attrs.limit,
							onChange: function ( value ) { props.setAttributes( { limit: value } ); }
						} )
					)
				),
				el( ServerSideRender, { block: 'deskbell/search', attributes: attrs } )
			);
		},
		// Dynamic block: the server renders it on every view.
		save: function () { return null; }
	} );
}( window.wp ) );
